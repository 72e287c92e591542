#!/usr/bin/python3
"""A deliberately broken relay, to prove that wsload notices broken tunnels.

    corrupt.py --listen PORT --to PORT --how none|flip|drop|dup|accept
               [--dir down|up] [--offset N]

Relays TCP connections on 127.0.0.1 like a proxy would, but damages every
connection once: at byte --offset (counted from the end of the HTTP head in
that direction) it flips a bit (flip), leaves a byte out (drop) or sends a
byte twice (dup); 'accept' changes one character of the backend's
Sec-WebSocket-Accept.  Prints "port=N" when it listens.  run.py --selftest
runs every workload through it and requires every run to fail.
"""
import argparse
import socket
import sys
import threading


def pump(src, dst, how, offset, damage):
    """Copies src to dst; damages the stream when damage is True."""
    head = b""
    in_head = True
    pos = 0           # bytes after the head
    done = not damage or how == "none"
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if in_head:
                head += data
                end = head.find(b"\r\n\r\n")
                if end < 0:
                    continue
                data = head[end + 4:]
                h = head[:end + 4]
                in_head = False
                if how == "accept" and not done:
                    i = h.lower().find(b"sec-websocket-accept:")
                    if i >= 0:
                        j = i + len(b"sec-websocket-accept:") + 1
                        c = h[j:j + 1]
                        h = h[:j] + (b"A" if c != b"A" else b"B") + h[j + 1:]
                        done = True
                dst.sendall(h)
            if not done and how != "accept" and pos + len(data) > offset:
                k = offset - pos
                if how == "flip":
                    data = data[:k] + bytes([data[k] ^ 0x01]) + data[k + 1:]
                elif how == "drop":
                    data = data[:k] + data[k + 1:]
                elif how == "dup":
                    data = data[:k + 1] + data[k:]
                done = True
                pos += len(data)
            else:
                pos += len(data)
            if data:
                dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(conn, args):
    try:
        back = socket.create_connection(("127.0.0.1", args.to), timeout=10)
        back.settimeout(None)
    except OSError:
        conn.close()
        return
    up = threading.Thread(target=pump, daemon=True,
                          args=(conn, back, args.how, args.offset,
                                args.dir == "up" and args.how != "accept"))
    up.start()
    pump(back, conn, args.how, args.offset,
         args.dir == "down" or args.how == "accept")
    up.join(30)
    conn.close()
    back.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--how", choices=["none", "flip", "drop", "dup", "accept"],
                    default="flip")
    ap.add_argument("--dir", choices=["down", "up"], default="down")
    ap.add_argument("--offset", type=int, default=5)
    args = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(1024)
    print("port=%d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, args), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
