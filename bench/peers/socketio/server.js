// The socket.io chat server of the usual Node tutorials, as chat-bench's comparison peer:
// clients join a room by name and every message is emitted to everyone in that room.
// Like those tutorials it keeps nothing: no accounts, no storage, no sequence numbers.
// chat-bench starts it with PORT and HOST set; it listens on loopback only.
"use strict";

const { createServer } = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";

const httpServer = createServer();
// WebSocket only: chat-bench speaks Engine.IO v4 over WebSocket, with no long-polling first.
const io = new Server(httpServer, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack();
  });
  socket.on("message", (msg, ack) => {
    if (!msg || typeof msg.room !== "string" || typeof msg.text !== "string") return;
    // To the whole room, the sender included, as chat-server does.
    io.to(msg.room).emit("message", { room: msg.room, text: msg.text });
    if (typeof ack === "function") ack();
  });
});

httpServer.listen(port, host, () => {
  console.log(`socket.io peer listening on ${host}:${port}`);
});

function stop() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
