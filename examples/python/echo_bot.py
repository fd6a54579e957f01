"""echo_bot.py: answers "!ping" with "pong" and "!echo TEXT" with TEXT in every room it is in.

    pip install -r examples/python/requirements.txt
    chat-server --db chat.sqlite user add pybot --bot
    CHAT_TOKEN=$(chat-server --db chat.sqlite token create pybot) python3 examples/python/echo_bot.py
"""
import asyncio
import itertools
import json
import os

import websockets


async def main():
    url = os.environ.get("CHAT_URL", "ws://127.0.0.1:7800")
    hello = {"type": "hello", "protocol": 1, "client": "echo_bot.py",
             "auth": {"method": "token", "token": os.environ["CHAT_TOKEN"]}}
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(hello))
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise SystemExit(f"refused: {welcome.get('message')}")
        me = welcome["user"]
        print(f"{me['username']} is listening on {url}", flush=True)
        request_ids = itertools.count(1)
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "error":
                print("error:", frame["message"], flush=True)
            if frame["type"] != "event" or frame["content"]["kind"] != "message":
                continue
            text = frame["content"]["text"]
            if frame["sender"]["id"] == me["id"]:
                continue
            if text.startswith("!echo "):
                reply = text[len("!echo "):]
            elif text.strip() == "!ping":
                reply = "pong"
            else:
                continue
            await ws.send(json.dumps({
                "type": "send_message", "request_id": next(request_ids),
                "room_id": frame["room_id"], "text": reply,
                # Derived from the message, so a reply can never be sent twice.
                "client_id": f"re-{frame['content']['message_id']}",
            }))


if __name__ == "__main__":
    asyncio.run(main())
