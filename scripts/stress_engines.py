"""Several embedded engines at once, each started, deployed to and run, round after round.

    .venv/bin/python scripts/stress_engines.py [--engines 4] [--rounds 10] [--records 10]

Each round starts `--engines` processes at once; each starts an engine of its own, plans
and deploys every workflow (the plan reads every resource back: many services' first
requests at once), runs `orders` on `--records` records and stops its engine. A failure
is any error, a run whose records did not end as expected, or an engine log line with
"No module named" or an InternalError. Prints one line per round and, last, the totals;
exits 1 when anything failed. (It reproduced "No module named
'localstack.services.sns.provider'" before localstack_plugins/imports.py stopped removing
its finder from sys.meta_path while imports ran.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serverless_testbed.deploy import Deployer
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.registry import stack_for, workflow
from serverless_testbed.runs import RunOptions
from serverless_testbed.settings import Settings

LOG_FAILURES = ("No module named", "InternalError", "InternalFailure")


def one_engine(args: tuple[int, int]) -> str | None:
    """Start, deploy, run orders, stop; None when all went well, else what went wrong."""
    number, records = args
    engine = EmbeddedEngine(Settings(target="embedded"))
    try:
        engine.start()
        deployer = Deployer.for_clients(engine.client, f"st{number}", engine.region, local=True)
        stack = stack_for()
        deployer.apply(deployer.plan(stack))
        result = workflow("orders").load_runner()(deployer, stack_for(["orders"]), RunOptions(records=records))
        log = engine.log_path.read_text(errors="replace")
        bad = [line for line in log.splitlines() if any(marker in line for marker in LOG_FAILURES)]
        if bad:
            return f"engine {number}: {bad[0][:300]}"
        if not result.ok:
            return f"engine {number}: orders run: {'; '.join(result.problems)[:300]}"
        return None
    except Exception as err:  # noqa: BLE001 - a stress run reports every failure and goes on
        return f"engine {number}: {type(err).__name__}: {str(err)[:300]}"
    finally:
        engine.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--records", type=int, default=10)
    options = parser.parse_args()
    failures: list[str] = []
    with multiprocessing.get_context("spawn").Pool(options.engines) as pool:
        for round_number in range(1, options.rounds + 1):
            started = time.monotonic()
            found = [f for f in pool.map(one_engine, [(i, options.records) for i in range(options.engines)]) if f]
            failures += found
            verdict = "ok" if not found else f"{len(found)} failed: {found[0]}"
            print(f"round {round_number}: {options.engines} engines, {time.monotonic() - started:.0f} s, {verdict}")
            sys.stdout.flush()
    print(f"{options.rounds} rounds of {options.engines} engines: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
