"""Run the SMSC simulator alone: ``python -m gateway_sms.simulator --port 2775 --account muhtar:secret``.

Used by the benchmark as an SMSC in its own process, and by hand to try an SMPP client.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from gateway_sms.simulator.server import Simulator


def _account(text: str) -> tuple[str, str]:
    system_id, _, password = text.partition(":")
    return system_id, password


async def _main(args: argparse.Namespace) -> None:
    sim = Simulator(dict(args.account), host=args.host, port=args.port, dlr_delay_s=args.dlr_delay_s)
    sim.keep_records = not args.no_records
    await sim.start()
    print(f"listening {sim.port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway_sms.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--account", type=_account, action="append", default=[], help="system_id:password")
    parser.add_argument("--dlr-delay-s", type=float, default=0.05)
    parser.add_argument("--no-records", action="store_true", help="do not keep messages (long benchmarks)")
    args = parser.parse_args()
    if not args.account:
        args.account = [("muhtar", "")]
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
