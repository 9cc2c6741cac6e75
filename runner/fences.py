"""How jupytext reads a fence: its info line into cell metadata, and whether the fence is a code cell at all.

jupytext is the reference for both, since `jupytext.reads(note, fmt="md")` is what JupyterLab opens and what the
runner executes. The info line is parsed by jupytext's own `text_to_metadata`, so `tags=["parameters"]` is a list,
`editable=false` a boolean and `run_control={"frozen": true}` a dict, exactly as in Jupyter. Whether a fence is a
cell follows jupytext's Markdown reader (`jupytext/cell_reader.py`): the opening backticks start the line, the
language is one jupytext knows, the fence is not marked `.noeval` and not inside a `<!-- #region -->`,
`<!-- #md -->` or `<!-- #raw -->` block. tests/test_jupytext_oracle.py checks these rules against jupytext itself.
"""
from __future__ import annotations

import builtins
import importlib.util
import re
import sys

# The vault's own attributes (README, "Code cells") and the cell metadata keys Jupyter tools define (nbformat's
# cell schema; `slideshow` for RISE/nbconvert slides; `run_control`, the classic notebook's freeze extension).
RUNNER_KEYS = {"export", "skip", "timeout", "raises"}
JUPYTER_KEYS = {"tags", "editable", "deletable", "collapsed", "scrolled", "name", "jupyter", "execution",
                "slideshow", "run_control"}
SKIP_TAG, RAISES_TAG = "skip-execution", "raises-exception"  # the tags nbclient honours (nbclient/client.py)
REGION_START = re.compile(r"^<!--\s*#(region|markdown|md|raw)(.*)-->\s*$")  # jupytext's MarkdownCellReader


def _jupytext_module(name: str):
    """`jupytext.<name>`, without running jupytext's `__init__`.

    `jupytext.cell_metadata` and `jupytext.languages` depend on nothing but the standard library, while importing
    the package loads nbformat and every reader and writer (0.25 s) — a quarter of `llm-vault check`'s budget for
    the whole vault. The modules are loaded under a private package name, so a later `import jupytext` is unaffected.
    """
    if f"jupytext.{name}" in sys.modules:
        return sys.modules[f"jupytext.{name}"]
    private = f"_llm_vault_jupytext.{name}"
    if private in sys.modules:
        return sys.modules[private]
    spec = importlib.util.find_spec("jupytext")  # finds the package without importing it
    try:
        if "_llm_vault_jupytext" not in sys.modules:
            package = importlib.util.module_from_spec(
                importlib.util.spec_from_loader("_llm_vault_jupytext", loader=None, is_package=True))
            package.__path__ = list(spec.submodule_search_locations)
            sys.modules["_llm_vault_jupytext"] = package
        sub = importlib.util.spec_from_file_location(private, f"{spec.submodule_search_locations[0]}/{name}.py")
        module = importlib.util.module_from_spec(sub)
        sys.modules[private] = module
        sub.loader.exec_module(module)
        return module
    except Exception:  # a jupytext whose modules import more than they do today: take the ordinary way
        sys.modules.pop(private, None)
        return importlib.import_module(f"jupytext.{name}")


def parse_fence_attrs(info: str) -> tuple[str, dict]:
    """```python export timeout=30 tags=["x"]``` → ("python", {"export": None, "timeout": 30, "tags": ["x"]}).

    jupytext's own reading of the info line. What it cannot read it keeps, whole, under
    `incorrectly_encoded_metadata` (see `attr_problems`).
    """
    info = info.strip()
    if not info:
        return "", {}
    lang, _, rest = info.partition(" ")
    if not rest.strip():
        return lang, {}
    text_to_metadata = _jupytext_module("cell_metadata").text_to_metadata
    _, attrs = text_to_metadata(f"{lang} {rest}" if lang.lower() == "python" else f"python {rest}")
    return lang, attrs


def jupyter_language(lang: str) -> bool:
    """Is ```lang a code cell for jupytext (python, or another kernel's language run as a `%%lang` cell)?"""
    languages = _jupytext_module("languages")._JUPYTER_LANGUAGES
    return lang in languages or lang in {l.upper() for l in languages}


def markdown_regions(lines: list[str], code_spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(first, last) line indexes of jupytext's explicit Markdown/raw regions, which hold no code cell.

    jupytext looks for `<!-- #region -->` only outside code blocks; a region that is never closed runs to the end.
    """
    inside_code = {i for start, end in code_spans for i in range(start, end)}
    regions, i = [], 0
    while i < len(lines):
        match = REGION_START.match(lines[i]) if i not in inside_code else None
        if not match:
            i += 1
            continue
        end_re = re.compile(rf"^<!--\s*#end{match.group(1)}\s*-->\s*$")
        end = next((j for j in range(i + 1, len(lines)) if end_re.match(lines[j])), len(lines) - 1)
        regions.append((i, end))
        i = end + 1
    return regions


def jupytext_reads_as_code(tok, lang: str, attrs: dict, lines: list[str], regions) -> bool:
    """Would jupytext make a code cell of this fence token? (markdown-it finds the fences; jupytext decides.)"""
    start = tok.map[0]
    return (lines[start].startswith("```") and jupyter_language(lang) and ".noeval" not in attrs
            and not any(first <= start <= last for first, last in regions))


def attr_problems(attrs: dict) -> list[str]:
    """What is wrong with a ```python fence's attributes, in words a note's author can act on."""
    if "incorrectly_encoded_metadata" in attrs:
        return [f"jupytext cannot read the attributes {attrs['incorrectly_encoded_metadata']!r}: values are JSON "
                f'(numbers bare, strings quoted: timeout=300 raises="ValueError" skip="why")']
    problems = []
    unknown = sorted(set(attrs) - RUNNER_KEYS - JUPYTER_KEYS)
    if unknown:
        problems.append(f"unknown fence attribute{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(RUNNER_KEYS))}, and Jupyter's {', '.join(sorted(JUPYTER_KEYS))})")
    if "export" in attrs and attrs["export"] is not None:
        problems.append("`export` takes no value")
    timeout = attrs.get("timeout")
    if "timeout" in attrs and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        problems.append(f"timeout={timeout!r}: a number of seconds above 0 (timeout=300)")
    if "skip" in attrs and attrs["skip"] is not None and not isinstance(attrs["skip"], str):
        problems.append(f'skip={attrs["skip"]!r}: the reason is a quoted string (skip="needs 8 GPUs")')
    if "raises" in attrs:
        problems += _raises_problems(attrs["raises"])
    tags = attrs.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(f'tags={tags!r}: a list of strings (tags=["{SKIP_TAG}"])')
    return problems


def jupyter_problems(attrs: dict) -> list[str]:
    """Attributes that work in the runner but not when Jupyter opens the `.md` itself (through jupytext).

    The runner's notebook adds the tags; jupytext's reading of the note has only what the note says.
    """
    tags = attrs.get("tags") if isinstance(attrs.get("tags"), list) else []
    problems = []
    for key, tag in (("skip", SKIP_TAG), ("raises", RAISES_TAG)):
        if (key in attrs) != (tag in tags):
            have, lack = (f"`{key}`", f'tag "{tag}"') if key in attrs else (f'tag "{tag}"', f"`{key}`")
            problems.append(f"{have} without {lack}: Jupyter honours the tag, the runner reads `{key}`; write both "
                            f'({key}=... tags=["{tag}"]) so that Jupyter does what the runner does')
    return problems


def _raises_problems(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_]\w*", value):
        return [f'raises={value!r}: the name of an exception class, quoted (raises="ValueError")']
    known = getattr(builtins, value, None)
    if known is not None and not (isinstance(known, type) and issubclass(known, BaseException)):
        return [f'raises="{value}": {value} is not an exception']
    return []


def fence_problems(fences, jupyter: bool = True) -> list[tuple[int, str]]:
    """(line, message) for each malformed fence attribute and, with `jupyter`, each fence that Jupyter (reading the
    `.md` through jupytext) would run differently from the runner. `run` fails a note on the first kind only."""
    found = []
    for fence in fences:
        if fence.is_python_cell:
            messages = attr_problems(fence.attrs) or (jupyter_problems(fence.attrs) if jupyter else [])
            found += [(fence.line, message) for message in messages]
        elif jupyter and fence.jupytext_code and fence.top_level and fence.lang.lower().startswith("python"):
            found.append((fence.line, f"jupytext makes ```{fence.lang} a code cell that Jupyter runs, but the runner "
                                      f"runs only ```python fences: write ```python"))
        elif jupyter and fence.jupytext_code and fence.top_level and fence.lang != "python":
            found.append((fence.line, f"jupytext reads a ```{fence.lang} fence as a `%%{fence.lang}` code cell, which "
                                      f"Jupyter runs and the runner never does: write ```text, ```shell or "
                                      f"```{fence.lang} .noeval for code that is shown, not run"))
    return found
