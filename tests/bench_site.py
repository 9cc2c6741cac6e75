"""How long `mkdocs build --strict` of the site takes with every output cached, beside the same build with the
vault's extension and hooks switched off (plain mkdocs-material). Not a test: run it and read the numbers.

    python tests/bench_site.py                  # the project's vault (`llm-vault run` first: outputs cached)
    python tests/bench_site.py --fixture        # the small fixture vault of the tests (runs its notes first)
    python tests/bench_site.py --synthetic 1000 # a generated vault of 1,000 linked notes (none run)

Goals: the vault's build ≤ 1.5× plain mkdocs; a 1,000-note vault ≤ 12 s, with a site whose size grows linearly
(the size per note is printed: 47 kB at 1,000 notes, 51 kB at 5,000). Wall time depends on what else the machine
is doing; CPU time less so.
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


FOLDERS = ["Basics", "How LLMs Work", "Building LLMs", "Tools and Frameworks", "Applications", "Advanced Topics",
           "Troubleshooting", "Reference"]


def synthetic_vault(root: Path, n: int, seed: int = 0) -> Path:
    """n notes in 8 folders (as the vault has), each with frontmatter, headings, 2 code cells and 5 wiki-links,
    and an Index that links to every note."""
    import random

    rnd = random.Random(seed)
    names = [f"Note {i:05d}" for i in range(n)]
    index = ["# Index", ""]
    for i, name in enumerate(names):
        links = " ".join(f"See [[{target}]]." for target in rnd.sample(names, min(5, n)))
        body = [f"---\ntags: [t{i % 20}]\naliases: [Alias {i}]\n---", f"# {name}", "",
                "Prose about tokens, attention and top-p sampling. " * 5, "",
                "```python", f"x = {i}", "print(x * 2)", "```", "", "## Details", "", links, "",
                "```python", "y = x + 1", "```", "", "## More", "", "Text " * 40, ""]
        folder = root / FOLDERS[i % len(FOLDERS)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.md").write_text("\n".join(body))
        index.append(f"- [[{name}]]")
    (root / "Index.md").write_text("\n".join(index) + "\n")
    return root


def site_size(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", action="store_true", help="benchmark the fixture vault of the tests")
    parser.add_argument("--synthetic", type=int, metavar="N", help="benchmark a generated vault of N notes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.ERROR)

    from runner import config, site

    if args.fixture:
        import site_helpers
        built = site_helpers.built_site()
        os.environ["LLM_VAULT_CACHE"] = str(built.cache)
        cfg = config.load(built.vault)
    elif args.synthetic:
        root = Path(tempfile.mkdtemp(prefix="bench-vault-"))
        os.environ["LLM_VAULT_CACHE"] = str(root / "cache")  # empty: every note shows as not run
        cfg = config.load(synthetic_vault(root / "vault", args.synthetic))
    else:
        cfg = config.load()
    out = Path(tempfile.mkdtemp(prefix="bench-site-"))
    rows = {}
    def cold_build(label, enabled):  # without the notes' parse kept from the last build (index.read_vault)
        (cfg.cache_dir / "parsed-notes.pickle").unlink(missing_ok=True)
        return timed(lambda: site.build_mkdocs(cfg, out / label.replace(" ", "-"), enabled=enabled))

    for label, enabled in (("with the vault extension", True), ("extension switched off", False)):
        runs = [cold_build(label, enabled) for _ in range(args.repeat)]
        rows[label] = min(runs)  # the least disturbed run
    print(f"mkdocs build --strict of {cfg.vault} ({len(list(cfg.vault.rglob('*.md')))} notes), "
          f"best of {args.repeat}:")
    for label, (wall, cpu) in rows.items():
        print(f"  {label:<26} {wall:6.2f} s wall  {cpu:6.2f} s CPU")
    (on_wall, on_cpu), (off_wall, off_cpu) = rows.values()
    ratio_goal = f"goal ≤ 1.5×: {'met' if on_wall / off_wall <= 1.5 else 'NOT met'}"
    print(f"  ratio                      {on_wall / off_wall:6.2f} × wall {on_cpu / off_cpu:6.2f} × CPU   ({ratio_goal})")
    notes = len(list(cfg.vault.rglob("*.md")))
    for label in rows:
        size = site_size(out / label.replace(" ", "-"))
        print(f"  site size, {label:<15.15} {size / 1e6:8.1f} MB   {size / notes / 1e3:6.1f} kB per note")
    if args.synthetic:
        goal = 12 * args.synthetic / 1000
        print(f"  {notes} notes: {on_wall:.1f} s with the extension (goal for this size ≤ {goal:.0f} s: "
              f"{'met' if on_wall <= goal else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
