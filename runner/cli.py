"""The `llm-vault` command: one verb per stage of the pipeline."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import config as config_mod


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-vault", description=__doc__)
    parser.add_argument("--vault", type=Path, help="vault folder (default: the project's vault/)")
    sub = parser.add_subparsers(dest="verb", required=True)

    sub.add_parser("check", help="check links, frontmatter, fences and companions; exit 1 on any error")
    sub.add_parser("export", help="write the companion modules of every note")
    fmt = sub.add_parser("fmt", help="format the notes' python cells to the width of the site's code column")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a note would change")

    run = sub.add_parser("run", help="execute notes (all by default) through nbclient, with the cache")
    run.add_argument("notes", nargs="*", help="note paths or names (default: every note with code)")
    _run_options(run)
    run.add_argument("--json", action="store_true", help="print the results as JSON")

    nb = sub.add_parser("notebook", help="write a note as .ipynb (with outputs when cached)")
    nb.add_argument("note")
    nb.add_argument("-o", "--output", type=Path)

    build = sub.add_parser("build", help="run what is stale, then build the site into site/")
    _run_options(build)
    build.add_argument("--site-dir", type=Path, default=Path("site"))
    serve = sub.add_parser("serve", help="live preview of the site; re-runs only the note you edit")
    _run_options(serve)
    serve.add_argument("--dev-addr", default="127.0.0.1:8000")

    args = parser.parse_args(argv)
    cfg = config_mod.load(args.vault)
    if getattr(args, "device", None):
        os.environ["LLM_VAULT_DEVICE"] = args.device
    try:
        return globals()[f"cmd_{args.verb}"](cfg, args)
    except KeyboardInterrupt:
        print("interrupted: no result of the unfinished notes was stored", file=sys.stderr)
        return 130


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None, help="device the notes use (default: auto)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="notes run in parallel (default: cores)")
    p.add_argument("--force", action="store_true", help="ignore the cache and re-run")
    p.add_argument("--timeout", type=float, default=None, help="default per-cell timeout in seconds (default 120)")


def cmd_check(cfg, args) -> int:
    from .check import check_vault

    start = time.perf_counter()
    found = check_vault(cfg)
    for d in found:
        print(d)
    errors = sum(d.severity == "error" for d in found)
    warnings = len(found) - errors
    print(f"checked {cfg.vault.name}/ in {time.perf_counter() - start:.2f}s: {errors} errors, {warnings} warnings",
          file=sys.stderr)
    return 1 if errors else 0


def cmd_export(cfg, args) -> int:
    from .export import ExportError, write_companions
    from .index import read_vault

    vault = read_vault(cfg.vault)
    try:
        written = write_companions(vault)
    except ExportError as exc:
        print(exc, file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print(f"{len(written)} companion files changed", file=sys.stderr)
    return 0


def cmd_fmt(cfg, args) -> int:
    from .fmt import fmt_vault

    return fmt_vault(cfg.vault, check=args.check)


def cmd_run(cfg, args) -> int:
    from .execute import run_vault
    from .report import print_json, print_table

    results = run_vault(cfg, args.notes, jobs=args.jobs, force=args.force, timeout=args.timeout, progress_display=not args.json)
    if args.json:
        print_json(results)
    else:
        print_table(results)
    return 0 if all(r.ok for r in results) else 1


def cmd_notebook(cfg, args) -> int:
    from .execute import notebook_for

    path = notebook_for(cfg, args.note, args.output)
    print(f"wrote {path}")
    return 0


def cmd_build(cfg, args) -> int:
    from .site import build_site

    return build_site(cfg, args)


def cmd_serve(cfg, args) -> int:
    from .site import serve_site

    return serve_site(cfg, args)


if __name__ == "__main__":
    sys.exit(main())
