"""Open-loop (fixed arrival rate) HTTP/1.1 load for latency percentiles without coordinated omission:
request i is due at t0 + i/rate whatever happened before, and its latency is measured from that due
time, so a stall shows up in every request it delays (wrk, closed-loop, would hide it).

    python3 benches/openloop.py URL BODY_FILE --rate 400 --seconds 5 [--connections 8] [--keys 10000]
"""
import argparse
import asyncio
import json
import statistics
import time
import urllib.parse


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def run(url, body, rate, seconds, connections, keys):
    u = urllib.parse.urlsplit(url)
    conns = asyncio.Queue()
    for _ in range(connections):
        conns.put_nowait(await asyncio.open_connection(u.hostname, u.port))
    latencies, statuses, late = [], {}, 0
    total = int(rate * seconds)
    t0 = time.perf_counter() + 0.05

    async def one(i):
        nonlocal late
        due = t0 + i / rate
        reader, writer = await conns.get()
        try:
            req = (f"POST {u.path} HTTP/1.1\r\nhost: {u.hostname}\r\ncontent-type: application/json\r\n"
                   f"authorization: Bearer sk-bench-{i % keys}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
            writer.write(req)
            status = await read_response(reader)
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(time.perf_counter() - due)
        finally:
            conns.put_nowait((reader, writer))

    tasks = []
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            late += 1
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    while not conns.empty():
        _, w = conns.get_nowait()
        w.close()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6
    return {"rate": rate, "requests": len(latencies), "p50_us": pick(0.50), "p90_us": pick(0.90),
            "p99_us": pick(0.99), "mean_us": statistics.fmean(latencies) * 1e6, "statuses": statuses,
            "generator_late": late}


def measure(url, body, rate, seconds, connections=8, keys=10000):
    return asyncio.run(run(url, body, rate, seconds, connections, keys))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("body")
    ap.add_argument("--rate", type=float, default=400)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--keys", type=int, default=10000)
    a = ap.parse_args()
    with open(a.body, "rb") as f:
        print(json.dumps(measure(a.url, f.read(), a.rate, a.seconds, a.connections, a.keys)))
