//! Connections per client address: a slot is taken at accept and given back when the
//! connection ends, so one address cannot hold more than `max_connections_per_address`
//! sockets (handshakes included) however it behaves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct AddressSlots {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's claim on its address; released on drop.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Arc<AddressSlots>,
    address: IpAddr,
}

impl AddressSlots {
    pub fn new(max: usize) -> Arc<AddressSlots> {
        Arc::new(AddressSlots {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Plain counters: usable as they are after a panic elsewhere.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a slot for a new connection from `address`, or say how many it has open (the
    /// limit) when it may not have another.
    pub fn claim(self: &Arc<Self>, address: IpAddr) -> Result<AddressSlot, usize> {
        let mut open = self.open();
        let count = open.entry(address).or_insert(0);
        if *count >= self.max {
            return Err(*count);
        }
        *count += 1;
        Ok(AddressSlot {
            slots: self.clone(),
            address,
        })
    }
}

impl AddressSlot {
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_address_and_given_back() {
        let slots = AddressSlots::new(2);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let first = slots.claim(a).unwrap();
        let _second = slots.claim(a).unwrap();
        assert_eq!(slots.claim(a).unwrap_err(), 2);
        assert!(slots.claim(b).is_ok(), "other addresses are not affected");
        drop(first);
        let third = slots.claim(a);
        assert!(third.is_ok(), "a dropped slot is given back");
        assert_eq!(slots.claim(a).unwrap_err(), 2, "and only that one");
    }
}
