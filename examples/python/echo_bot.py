"""echo_bot.py: answers "!ping" with "pong" and "!echo TEXT" with TEXT in every room it is in.

    python3 -m venv .venv && .venv/bin/pip install -r examples/python/requirements.txt
    chat-server --db chat.sqlite user add pybot --bot
    CHAT_TOKEN=$(chat-server --db chat.sqlite token create pybot) \\
        CHAT_URL=ws://127.0.0.1:7800 .venv/bin/python examples/python/echo_bot.py

It runs until its token is revoked: when the server restarts it reconnects (with backoff) and
answers what was said while it was away, each message once (it catches up by seq per room).
"""
import asyncio
import itertools
import json
import os
import random

import websockets

URL = os.environ.get("CHAT_URL", "ws://127.0.0.1:7800")
TOKEN = os.environ["CHAT_TOKEN"]
TOKEN_REVOKED, UNAUTHORIZED = 4003, 4001


class Refused(Exception):
    pass


def reply_to(text):
    if text.startswith("!echo "):
        return text[len("!echo "):]
    if text.strip() == "!ping":
        return "pong"
    return None


async def session(seen, request_ids, started, unanswered):
    """One connection: catch up on every room after what was seen, then answer live events.

    `unanswered` maps the request id of each reply not yet acknowledged to the event it
    answers: a connection lost before the acknowledgement (a stall, a restart) takes the bot
    back to that event on the next connection. The reply's client id makes the retry safe.
    """
    for room, seq in unanswered.values():
        seen[room] = min(seen.get(room, seq), seq - 1)
    unanswered.clear()
    hello = {"type": "hello", "protocol": 1, "client": "echo_bot.py",
             "auth": {"method": "token", "token": TOKEN}}
    async with websockets.connect(URL) as ws:
        await ws.send(json.dumps(hello))
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise Refused(welcome.get("message"))
        # An account in many rooms gets the rest of its room list in pages right after.
        rooms = welcome["rooms"]
        more = welcome.get("more_rooms", False)
        while more:
            page = json.loads(await ws.recv())
            rooms += page["rooms"]
            more = page["more"]
        me = welcome["user"]
        print(f"{me['username']} is listening on {URL}", flush=True)
        first = not started
        started.append(True)
        # Frames that are not the history being waited for are kept for afterwards.
        later = []

        async def request(frame):
            frame["request_id"] = next(request_ids)
            await ws.send(json.dumps(frame))
            while True:
                answer = json.loads(await ws.recv())
                if answer.get("request_id") == frame["request_id"]:
                    return answer
                later.append(answer)

        async def handle(frame):
            if frame["type"] in ("message_sent", "error"):
                unanswered.pop(frame.get("request_id"), None)
            if frame["type"] == "error":
                print("error:", frame["message"], flush=True)
            if frame["type"] == "event":
                await on_event(frame)

        async def on_event(frame):
            room = frame["room_id"]
            if frame["seq"] <= seen.get(room, 0):
                return  # already answered (caught up before it arrived live)
            seen[room] = frame["seq"]
            content = frame["content"]
            if content["kind"] != "message" or frame["sender"]["id"] == me["id"]:
                return
            reply = reply_to(content["text"])
            if reply is not None:
                request_id = next(request_ids)
                unanswered[request_id] = (room, frame["seq"])
                await ws.send(json.dumps({
                    "type": "send_message", "request_id": request_id,
                    "room_id": room, "text": reply,
                    # Derived from the message, so a reply can never be sent twice.
                    "client_id": f"re-{content['message_id']}",
                }))

        for room in rooms:
            if first:
                seen[room["id"]] = room["last_seq"]  # start from now, not from the beginning
                continue
            after = seen.setdefault(room["id"], max(0, room["last_seq"] - 100))
            more = room["last_seq"] > after
            while more:
                page = await request({"type": "get_history", "room_id": room["id"],
                                      "after": seen[room["id"]], "limit": 200})
                if page["type"] != "history":
                    break
                for event in page["events"]:
                    await on_event(event)
                more = page["more"]
        for frame in later:
            await handle(frame)
        async for raw in ws:
            await handle(json.loads(raw))


async def main():
    seen, request_ids, started, unanswered, delay = {}, itertools.count(1), [], {}, 0.5
    while True:
        try:
            await session(seen, request_ids, started, unanswered)
        except Refused as e:
            raise SystemExit(f"refused: {e}")
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            if code in (TOKEN_REVOKED, UNAUTHORIZED):
                raise SystemExit(f"logged out by the server ({code})")
            print(f"connection closed ({code}); reconnecting", flush=True)
            delay = 0.5
        except OSError as e:
            print(f"cannot connect ({e}); retrying in {delay:.1f} s", flush=True)
            delay = min(delay * 2, 30)
        await asyncio.sleep(delay * random.uniform(0.75, 1.0))


if __name__ == "__main__":
    asyncio.run(main())
