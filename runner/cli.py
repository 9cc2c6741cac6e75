"""llm-vault: check, run and publish an executable Obsidian vault.

The vault is found from the current folder upwards (a pyproject.toml with [tool.llm-vault], else a mkdocs.yml, else a
folder holding .obsidian/), or given with --vault. Running notes runs their code, as you, with your files.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import __version__
from . import config as config_mod


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        cfg = config_mod.load(getattr(args, "vault", None))
    except config_mod.ProjectError as exc:
        print(f"llm-vault: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "device", None):
        os.environ["LLM_VAULT_DEVICE"] = args.device
    try:
        return globals()[f"cmd_{args.verb}"](cfg, args)
    except KeyboardInterrupt:
        print("interrupted: no result of the unfinished notes was stored", file=sys.stderr)
        return 130
    except config_mod.ProjectError as exc:
        print(f"llm-vault: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # a note that does not exist, a vault that cannot be planned: one line, no traceback
        if isinstance(exc.code, str):
            print(f"llm-vault: {exc.code}", file=sys.stderr)
            return 2
        raise


def _parser() -> argparse.ArgumentParser:
    # --vault before or after the verb: the sub-parsers' copy must not overwrite the main one with its default
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--vault", type=Path, metavar="FOLDER", default=argparse.SUPPRESS,
                       help="the vault folder (default: found from the current folder upwards)")
    parser = argparse.ArgumentParser(prog="llm-vault", description=__doc__, parents=[where],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"llm-vault {__version__}")
    sub = parser.add_subparsers(dest="verb", title="commands", metavar="COMMAND")

    def verb(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=summary, parents=[where])

    verb("check", "check links, frontmatter, code fences and companions; print `path:line: message`, exit 1 on "
                  "any error")
    verb("export", "write the companion module of every note with code (vault/companions/)")
    fmt = verb("fmt", "format the notes' python cells to the width of the site's code column (ruff)")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a note would change")

    run = verb("run", "execute notes (all with code, by default) in fresh kernels, reusing cached results")
    run.add_argument("notes", nargs="*", metavar="NOTE",
                     help="a note's title or alias (any case), or its path; default: every note with code")
    _run_options(run)
    run.add_argument("--json", action="store_true", help="print the results as JSON on stdout (no progress)")

    nb = verb("notebook", "write a note as a Jupyter notebook, with the outputs of its last run")
    nb.add_argument("note", metavar="NOTE", help="a note's title or alias (any case), or its path")
    nb.add_argument("-o", "--output", type=Path, metavar="FILE",
                    help="where to write it (default: <note title>.ipynb in the current folder)")
    nb.add_argument("--run", action="store_true", help="run the note first when its current code has no run")
    _run_options(nb, exitfirst=False)

    build = verb("build", "run what is stale, then build the site (exit 1 if a note failed; the site is "
                          "still written)")
    _run_options(build)
    build.add_argument("--site-dir", type=Path, default=None, metavar="FOLDER",
                       help="where the site goes (default: site/ of the project; for a vault of its own, "
                            "<vault>-site/ beside it)")
    build.add_argument("--allow-failures", action="store_true",
                       help="exit 0 even when notes failed or could not run (for previews); the pages still "
                            "show the failures")
    serve = verb("serve", "live preview of the site; re-runs only the note you edit")
    _run_options(serve, exitfirst=False)
    serve.add_argument("--dev-addr", default="127.0.0.1:8000", metavar="HOST:PORT",
                       help="address to serve on (default: 127.0.0.1:8000)")
    return parser


def _run_options(p: argparse.ArgumentParser, exitfirst: bool = True) -> None:
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None,
                   help="device the notes use (default: auto, CUDA when there is one)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="notes run in parallel (default: the number of cores)")
    p.add_argument("--force", action="store_true", help="ignore the cache: run every selected note again")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="per-cell time limit, unless a cell sets its own (default: 120)")
    if exitfirst:
        p.add_argument("-x", "--exitfirst", action="store_true",
                       help="start no other note after the first failure")


def cmd_check(cfg, args) -> int:
    from .check import check_vault

    start = time.perf_counter()
    found = check_vault(cfg)
    for d in found:
        print(d)
    errors = sum(d.severity == "error" for d in found)
    warnings = len(found) - errors
    print(f"checked {_shown(cfg.vault)}/ in {time.perf_counter() - start:.2f}s: {_count(errors, 'error')}, "
          f"{_count(warnings, 'warning')}", file=sys.stderr)
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
        print(f"wrote {_shown(path)}")
    print(f"{_count(len(written), 'companion file')} changed", file=sys.stderr)
    return 0


def cmd_fmt(cfg, args) -> int:
    from .fmt import fmt_vault

    return fmt_vault(cfg.vault, check=args.check)


def cmd_run(cfg, args) -> int:
    from .execute import run_vault
    from .progress import Progress
    from .report import print_json, print_table

    progress = None if args.json else Progress(jobs=args.jobs)
    results = run_vault(cfg, args.notes, jobs=args.jobs, force=args.force, timeout=args.timeout,
                        progress=progress, progress_display=False, exitfirst=args.exitfirst)
    if args.json:
        print_json(results)
    else:
        print_table(results)
    return 0 if all(r.ok for r in results) else 1


def cmd_notebook(cfg, args) -> int:
    from .execute import write_notebook
    from .progress import Progress

    path, result = write_notebook(cfg, args.note, args.output, run=args.run, jobs=args.jobs, force=args.force,
                                timeout=args.timeout, progress=Progress(jobs=args.jobs), progress_display=False)
    if result is None:
        print(f"wrote {_shown(path)} without outputs: {args.note!r} has no run of its current code; "
              f"`llm-vault notebook {_quoted(args.note)} --run` runs it first", file=sys.stderr)
    elif not result.ok:
        where = f"{result.note}:{result.line}" if result.line else result.note
        print(f"wrote {_shown(path)} with partial outputs: its last run failed at {where}, and the cells after "
              f"the failing one have none (`llm-vault run {_quoted(args.note)}` shows the report)", file=sys.stderr)
    else:
        print(f"wrote {_shown(path)} with the outputs of its run of {result.date[:16].replace('T', ' ')} UTC",
              file=sys.stderr)
    return 0


def cmd_build(cfg, args) -> int:
    from .site import build_site

    return build_site(cfg, args)


def cmd_serve(cfg, args) -> int:
    from .site import serve_site

    return serve_site(cfg, args)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _quoted(text: str) -> str:
    return f'"{text}"' if any(c in text for c in " ()'&") else text


def _shown(path: Path) -> str:
    from .report import shown_path

    return shown_path(path)


if __name__ == "__main__":
    sys.exit(main())
