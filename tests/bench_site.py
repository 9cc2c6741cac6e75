"""How long `mkdocs build --strict` of the site takes with every output cached, beside the same build with the
vault's extension and hooks switched off (plain mkdocs-material). Not a test: run it and read the numbers.

    python tests/bench_site.py            # the project's vault (run `llm-vault run` first so outputs are cached)
    python tests/bench_site.py --fixture  # the small fixture vault of the tests (runs its notes first)

Goal: ≤ 10 s for the whole vault. Wall time depends on what else the machine is doing; CPU time less so.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", action="store_true", help="benchmark the fixture vault of the tests")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.ERROR)

    from runner import config, site

    if args.fixture:
        import site_helpers
        built = site_helpers.built_site()
        os.environ["LLM_VAULT_CACHE"] = str(built.cache)
        cfg = config.load(built.vault)
    else:
        cfg = config.load()
    out = Path(tempfile.mkdtemp(prefix="bench-site-"))
    rows = {}
    for label, enabled in (("with the vault extension", True), ("extension switched off", False)):
        runs = [timed(lambda: site.build_mkdocs(cfg, out / label.replace(" ", "-"), enabled=enabled))
                for _ in range(args.repeat)]
        rows[label] = min(runs)  # the least disturbed run
    print(f"mkdocs build --strict of {cfg.vault} ({len(list(cfg.vault.rglob('*.md')))} notes), "
          f"best of {args.repeat}:")
    for label, (wall, cpu) in rows.items():
        print(f"  {label:<26} {wall:6.2f} s wall  {cpu:6.2f} s CPU")
    (on_wall, on_cpu), (off_wall, off_cpu) = rows.values()
    print(f"  ratio                      {on_wall / off_wall:6.2f} × wall {on_cpu / off_cpu:6.2f} × CPU"
          f"   (goal: ≤ 10 s with the extension: {'met' if on_wall <= 10 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
