//! The open-loop load shared by fanout and chat: every connected user reads its deliveries and
//! records their latency; some of them also send at a planned rate. The rate and the phase
//! change while the connections stay up, through a watch channel.

use crate::net::Ws;
use crate::stats::{now_us, Errors, Recorder};
use crate::target::Kind;
use crate::wire::{self, Incoming};
use chat_protocol::RoomId;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// What every connection task reports into.
pub struct Shared {
    pub kind: Kind,
    pub recorder: Recorder,
    pub errors: Errors,
    /// Messages sent in each phase.
    pub sent: Vec<AtomicU64>,
    /// Deliveries those messages should make (each to every connected member of its room).
    pub expected: Vec<AtomicU64>,
    /// Set before the connections are closed on purpose, so closes are not counted as errors.
    pub finishing: AtomicBool,
}

impl Shared {
    pub fn new(kind: Kind, phases: usize) -> Arc<Shared> {
        Arc::new(Shared {
            kind,
            recorder: Recorder::new(phases),
            errors: Errors::default(),
            sent: (0..phases).map(|_| AtomicU64::new(0)).collect(),
            expected: (0..phases).map(|_| AtomicU64::new(0)).collect(),
            finishing: AtomicBool::new(false),
        })
    }

    pub fn sent_in(&self, phase: usize) -> u64 {
        self.sent
            .get(phase)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub fn expected_in(&self, phase: usize) -> u64 {
        self.expected
            .get(phase)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Wait (at most `limit`) until every delivery of `phase` has arrived; returns how many did.
    pub async fn drain(&self, phase: usize, limit: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + limit;
        while self.recorder.count(phase) < self.expected_in(phase)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.recorder.count(phase)
    }
}

/// The current sending plan: messages per second per sender, in `phase`, counted from
/// `start_us`. A rate of 0 pauses; `stop` ends every connection, senders or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub phase: usize,
    pub rate: f64,
    pub start_us: u64,
    pub stop: bool,
}

impl Plan {
    pub fn paused() -> Plan {
        Plan {
            phase: 0,
            rate: 0.0,
            start_us: now_us(),
            stop: false,
        }
    }

    pub fn stop() -> Plan {
        Plan {
            stop: true,
            ..Plan::paused()
        }
    }
}

/// Every connected member of a run, each on its own task, steered by one plan.
pub struct Crowd {
    shared: Arc<Shared>,
    plans: watch::Sender<Plan>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Crowd {
    /// No members yet, and a paused plan.
    pub fn new(shared: Arc<Shared>) -> Crowd {
        Crowd {
            shared,
            plans: watch::channel(Plan::paused()).0,
            tasks: Vec::new(),
        }
    }

    /// Start a member's task; a `sender` also sends on the plan.
    pub fn join(&mut self, ws: Ws, sender: Option<Sender>) {
        let member = run_member(ws, self.shared.clone(), sender, self.plans.subscribe());
        self.tasks.push(tokio::spawn(member));
    }

    /// Change what every sender does from now on.
    pub fn plan(&self, plan: Plan) {
        // Fails only without receivers, that is when every member has already ended.
        let _ = self.plans.send(plan);
    }

    /// Close every connection (not counted as errors) and wait for the tasks to end.
    pub async fn stop(self) {
        self.shared.finishing.store(true, Ordering::Relaxed);
        self.plan(Plan::stop());
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A sending member's part: which room, how big the messages are.
pub struct Sender {
    pub room: RoomId,
    /// Connected members of the room, the sender included: who should receive each message.
    pub audience: u64,
    pub id: usize,
    pub text_bytes: usize,
    /// Where in each period this sender sends (0..1), so thousands of senders at 1 msg/s do
    /// not all send in the same millisecond.
    pub offset: f64,
}

/// Wait for the next plan. The future owns the receiver and lives across loop iterations:
/// a fresh `changed()` future on every received frame registered and unregistered a waiter
/// on a lock shared by every connection, which made the load generator its own bottleneck.
async fn next_plan(mut plan: watch::Receiver<Plan>) -> (watch::Receiver<Plan>, Option<Plan>) {
    let next = match plan.changed().await {
        Ok(()) => Some(*plan.borrow_and_update()),
        Err(_) => None,
    };
    (plan, next)
}

/// Read deliveries until the plan says stop; when `sender` is given, also send on the plan.
pub async fn run_member(
    mut ws: Ws,
    shared: Arc<Shared>,
    sender: Option<Sender>,
    plans: watch::Receiver<Plan>,
) {
    let offset = sender.as_ref().map_or(0.0, |s| s.offset);
    let mut plan = *plans.borrow();
    let mut plan_change = Box::pin(next_plan(plans));
    // Messages of the current plan already sent; the schedule is begin + k / rate.
    let mut sent_in_plan: u64 = 0;
    let mut request_id: u64 = 0;
    let mut begin = schedule_start(&plan, offset);
    let mut tick = ticker(&plan, begin);
    loop {
        tokio::select! {
            (plans, next) = &mut plan_change => {
                let Some(next) = next else { return };
                plan_change = Box::pin(next_plan(plans));
                if next.stop {
                    let _ = ws.close(None).await;
                    return;
                }
                plan = next;
                sent_in_plan = 0;
                begin = schedule_start(&plan, offset);
                tick = ticker(&plan, begin);
            }
            _ = tick.tick(), if sender.is_some() && plan.rate > 0.0 => {
                let Some(s) = sender.as_ref() else { continue };
                let now = now_us();
                if now < begin { continue; }
                let due = ((now - begin) as f64 / 1e6 * plan.rate).floor() as u64 + 1;
                if due <= sent_in_plan { continue; }
                let mut failed = false;
                while sent_in_plan < due {
                    // The time it was due, not the time it went: a late sender shows as latency.
                    let intended = begin + (sent_in_plan as f64 * 1e6 / plan.rate) as u64;
                    request_id += 1;
                    let text = wire::marker_text(plan.phase, intended, s.text_bytes);
                    let frame = wire::send_frame(shared.kind, request_id, s.room, format!("s{}-{request_id}", s.id), text);
                    if ws.feed(Message::text(frame)).await.is_err() { failed = true; break; }
                    sent_in_plan += 1;
                    if let Some(counter) = shared.sent.get(plan.phase) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(counter) = shared.expected.get(plan.phase) {
                        counter.fetch_add(s.audience, Ordering::Relaxed);
                    }
                }
                if failed || ws.flush().await.is_err() {
                    lost(&shared);
                    return;
                }
            }
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => match wire::classify(shared.kind, &text) {
                    Incoming::Delivery { phase, sent_us } => {
                        shared.recorder.record(phase, now_us().saturating_sub(sent_us));
                    }
                    Incoming::Ack | Incoming::Other => {}
                    Incoming::Refused => {
                        shared.errors.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("refused: {}", text.as_str());
                    }
                    Incoming::Ping => {
                        if ws.send(Message::text("3")).await.is_err() { lost(&shared); return; }
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    tracing::debug!("closed by the server: {frame:?}");
                    lost(&shared);
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => { lost(&shared); return; }
            }
        }
    }
}

fn lost(shared: &Shared) {
    if !shared.finishing.load(Ordering::Relaxed) {
        shared.errors.closed.fetch_add(1, Ordering::Relaxed);
    }
}

fn schedule_start(plan: &Plan, offset: f64) -> u64 {
    if plan.rate <= 0.0 {
        return plan.start_us;
    }
    plan.start_us + (offset / plan.rate * 1e6) as u64
}

/// Ticks aligned with the schedule, so a message goes out when it is due.
fn ticker(plan: &Plan, begin: u64) -> tokio::time::Interval {
    let period = tick_for(plan.rate);
    let first = tokio::time::Instant::from_std(crate::stats::instant_at(begin));
    let mut tick = tokio::time::interval_at(first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Wake often enough to keep the schedule within a few ms, but no more than needed: ten
/// thousand senders at one message a second should cost ten thousand wake-ups, not millions.
fn tick_for(rate: f64) -> Duration {
    if rate <= 0.0 {
        return Duration::from_secs(3600);
    }
    Duration::from_secs_f64((1.0 / rate).clamp(0.005, 1.0))
}
