# generated from vault/Applications/AI Agents and Autonomous Systems.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import agents` (the cells marked `export`).
# Run it: `python -m companions.agents` runs the whole note.

# %% export note_line=60
import ast
import json
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Callable


class ToolError(Exception):
    """An error the agent should see as an observation (not a crash)."""


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def safe_eval(
    expression: str, max_chars: int = 200, max_bits: int = 4096
) -> float | int:
    """Evaluate arithmetic only: numbers, + - * / // % **, unary +/-, a few math
    functions and constants."""
    if len(expression) > max_chars:
        raise ToolError(f"expression longer than {max_chars} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as e:
        raise ToolError(f"syntax error: {e.msg}") from None

    def ev(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = ev(node.left), ev(node.right)
            if (
                isinstance(node.op, ast.Pow)
                and abs(right) * math.log2(max(2, abs(left))) > max_bits
            ):
                raise ToolError("result too large")
            try:
                return _BINARY[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ToolError("division by zero") from None
            except OverflowError:
                raise ToolError("numeric overflow") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            try:
                return _FUNCTIONS[node.func.id](*[ev(a) for a in node.args])
            except (ValueError, TypeError) as e:
                raise ToolError(f"{node.func.id}: {e}") from None
        raise ToolError(f"not allowed in arithmetic: {type(node).__name__}")

    return ev(tree.body)


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict  # JSON Schema of the arguments
    fn: Callable[..., object]

    def schema(self) -> dict:
        """What a function-calling API receives."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def calculator_tool() -> Tool:
    return Tool(
        "calculator",
        "Evaluate an arithmetic expression exactly. Use it for any computation.",
        {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
        lambda expression: f"{safe_eval(expression):.12g}",
    )


# %% note_line=178
if __name__ == "__main__":
    import random

    from runner.env import seed_everything

    seed_everything(0)
    rng = random.Random(0)


    def random_expression(depth: int = 0) -> str:
        if depth > 2 or rng.random() < 0.3:
            return str(rng.randint(1, 50))
        op = rng.choice(["+", "-", "*", "/", "//", "%"])
        return f"({random_expression(depth + 1)} {op} {random_expression(depth + 1)})"


    checked = 0
    for _ in range(300):
        expr = random_expression()
        try:
            # trusted here: we generated the string ourselves
            expected = eval(expr, {"__builtins__": {}})
        except ZeroDivisionError:
            continue
        assert safe_eval(expr) == expected, expr
        checked += 1
    print(f"safe_eval agrees with Python on {checked} random expressions")

    hostile = [
        "__import__('os').system('echo pwned')",
        "open('/etc/passwd').read()",
        "(1).__class__.__bases__",
        "[x for x in range(10**9)]",
        "9**9**9",
        "lambda: 1",
        "a + 1",
        "sqrt(-1)",
        "1/0",
        "x" * 300,
    ]
    for expr in hostile:
        try:
            safe_eval(expr)
        except ToolError as e:
            print(f"refused  {expr[:40]!r:44} -> {e}")
        else:
            raise AssertionError(f"accepted {expr!r}")
    print(safe_eval("17/100*2350 + 12"), safe_eval("sqrt(2)**2"), safe_eval("2**64"))


# %% export note_line=232
def vault_search_tool(k: int = 3, snippet_words: int = 25) -> Tool:
    from companions import rag
    from runner.env import vault_notes

    notes = {
        p.stem: p.read_text(encoding="utf-8")
        for p in vault_notes()
        if p.stem != "Index"
    }
    chunks = [
        c for title in sorted(notes) for c in rag.chunk_markdown(notes[title], title)
    ]
    index = rag.BM25([rag.tokenize(c["text"]) for c in chunks])

    def search(query: str) -> str:
        if not query.strip():
            raise ToolError("empty query")
        hits = rag.top_k(index.scores(rag.tokenize(query)), k)
        lines = []
        for i in hits:
            # code-only: show code
            body = (
                chunks[i]["prose"].split(": ", 1)[-1]
                or chunks[i]["text"].split(": ", 1)[-1]
            )
            words = body.split()
            lines.append(
                f"{rag.citation(chunks[i])}: {' '.join(words[:snippet_words])} …"
            )
        return "\n".join(lines)

    return Tool(
        "vault_search",
        "Search the LLM vault; returns the best matching sections as [[Note#Heading]].",
        {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
        search,
    )


# %% note_line=276
if __name__ == "__main__":
    tools = {t.name: t for t in (calculator_tool(), vault_search_tool())}
    print(json.dumps([t.schema() for t in tools.values()], indent=1)[:600], "…")
    print()
    print(tools["vault_search"].fn(query="speculative decoding draft model"))


# %% export note_line=295
@dataclass
class Step:
    output: str  # what the policy (model) wrote
    action: str | None  # tool name, "final", or None if unparseable
    args: dict | None
    observation: str


@dataclass
class AgentResult:
    status: str  # "finished" | "budget_exhausted" | "stuck"
    answer: str | None
    steps: list[Step] = field(default_factory=list)


class ParseError(ValueError):
    pass


ACTION_FORMAT = (
    'Reply with "Thought: …" then either "Action: <tool>" and "Action Input: <JSON'
    ' object>", or "Final Answer: <answer>".'
)


def parse_action(text: str) -> tuple[str, dict | str]:
    """ReAct-style output -> ("final", answer) or (tool_name, args)."""
    final = re.search(r"Final Answer:\s*(.+)", text, re.S)
    if final:
        return "final", final.group(1).strip()
    action = re.search(r"Action:\s*([\w-]+)", text)
    payload = re.search(r"Action Input:\s*(\{.*\})", text, re.S)
    if not action or not payload:
        raise ParseError(
            "no 'Final Answer:' and no 'Action:' with an 'Action Input:' JSON object"
        )
    try:
        args = json.loads(payload.group(1))
    except json.JSONDecodeError as e:
        raise ParseError(f"Action Input is not valid JSON ({e.msg})") from None
    if not isinstance(args, dict):
        raise ParseError("Action Input must be a JSON object")
    return action.group(1), args


def run_agent(
    task: str,
    policy: Callable[[str, list[Step]], str],
    tools: dict[str, Tool],
    max_steps: int = 8,
    max_observation_chars: int = 600,
    max_repeats: int = 3,
    verbose: bool = True,
) -> AgentResult:
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for n in range(1, max_steps + 1):
        output = policy(task, steps)
        try:
            name, args = parse_action(output)
        except ParseError as e:
            step = Step(output, None, None, f"Error: {e}. {ACTION_FORMAT}")
        else:
            if name == "final":
                steps.append(Step(output, "final", None, ""))
                if verbose:
                    print(f"[{n}] {output.strip()}")
                return AgentResult("finished", args, steps)
            key = json.dumps([name, args], sort_keys=True)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] >= max_repeats:
                steps.append(
                    Step(
                        output, name, args, "Error: repeated the same action; stopping."
                    )
                )
                return AgentResult("stuck", None, steps)
            if name not in tools:
                observation = (
                    f"Error: unknown tool {name!r}; available: {', '.join(tools)}"
                )
            else:
                try:
                    observation = str(tools[name].fn(**args))
                except ToolError as e:
                    observation = f"Error: {e}"
                except TypeError as e:  # wrong or missing arguments
                    observation = f"Error: bad arguments for {name}: {e}"
            if len(observation) > max_observation_chars:
                observation = observation[:max_observation_chars] + " …[truncated]"
            step = Step(output, name, args, observation)
        steps.append(step)
        if verbose:
            print(f"[{n}] {step.output.strip()}\n    Observation: {step.observation}")
    return AgentResult("budget_exhausted", None, steps)


# %% export note_line=401
ARITHMETIC = re.compile(r"[\d.(][\d.\s+\-*/%()]*[\d.)%]")
LOOKUP = re.compile(r"which note (?:explains|covers|describes) ([^,?;]+)", re.I)
WORDS = [
    (r"%\s+of\s+", "% * "),
    (r",?\s+plus\s+", " + "),
    (r",?\s+minus\s+", " - "),
    (r"\s+times\s+", " * "),
    (r"\s+divided by\s+", " / "),
]


def arithmetic_in(task: str) -> list[str]:
    """Arithmetic expressions in a task, with '17% of 2350, plus 12' rewritten to
    '(17/100) * 2350 + 12'."""
    text = task
    for pattern, symbol in WORDS:
        text = re.sub(pattern, symbol, text, flags=re.I)
    found = [m.group(0).strip() for m in ARITHMETIC.finditer(text)]
    found = [e for e in found if re.search(r"[\d)%]\s*(\*\*|//|[-+*/%])\s*[\d(]", e)]
    return [re.sub(r"(\d[\d.]*)%", r"(\1/100)", e) for e in found]


def scripted_policy(task: str, steps: list[Step]) -> str:
    done = {
        json.dumps(s.args, sort_keys=True): s.observation
        for s in steps
        if s.args is not None
    }
    goals = [("calculator", {"expression": e}) for e in arithmetic_in(task)]
    goals += [
        ("vault_search", {"query": m.group(1).strip()}) for m in LOOKUP.finditer(task)
    ]
    if not goals:
        return (
            "Thought: nothing to compute or look up.\nFinal Answer: I cannot help with"
            " this task using my tools."
        )
    for tool, args in goals:
        if json.dumps(args, sort_keys=True) not in done:
            plan = "; ".join(f"{t}({json.dumps(a)})" for t, a in goals)
            return (
                f"Thought: plan = {plan}. Next: {tool}.\n"
                f"Action: {tool}\nAction Input: {json.dumps(args)}"
            )
    parts = []
    for tool, args in goals:
        obs = done[json.dumps(args, sort_keys=True)]
        if obs.startswith("Error"):
            parts.append(
                f"{args.get('expression', args.get('query'))} could not be computed"
                f" ({obs[7:]})"
            )
        elif tool == "calculator":
            parts.append(f"{args['expression']} = {obs}")
        else:
            parts.append(f"'{args['query']}' is covered in {obs.split(':', 1)[0]}")
    return "Thought: all sub-goals resolved.\nFinal Answer: " + "; ".join(parts) + "."


# %% note_line=461
if __name__ == "__main__":
    result = run_agent(
        "What is 17% of 2350, plus 12? And which note explains speculative decoding?",
        scripted_policy,
        tools,
    )
    print("\nstatus:", result.status, "| steps:", len(result.steps))
    print("answer:", result.answer)
    assert result.status == "finished"
    assert "411.5" in result.answer and "[[" in result.answer


# %% note_line=475
if __name__ == "__main__":
    result = run_agent("What is 10 / (5 - 5)?", scripted_policy, tools)
    print("\nstatus:", result.status, "| answer:", result.answer)
    assert result.status == "finished" and "division by zero" in result.answer


# %% note_line=486
if __name__ == "__main__":
    def counting_policy(task, steps):  # never finishes; a different action each time
        return f'Action: calculator\nAction Input: {{"expression": "{len(steps)} + 1"}}'


    def stuck_policy(task, steps):  # repeats itself
        return 'Action: vault_search\nAction Input: {"query": "attention"}'


    # malformed output, unknown tool, bad arguments, injection, then stops
    def sloppy_policy(task, steps):
        script = [
            "I think the answer is 4",
            'Action: calculator\nAction Input: {"expression": "2+2"',
            'Action: web_browser\nAction Input: {"url": "http://example.com"}',
            'Action: calculator\nAction Input: {"expr": "2+2"}',
            (
                'Action: calculator\nAction Input: {"expression":'
                " \"__import__('os').getcwd()\"}"
            ),
            'Action: calculator\nAction Input: {"expression": "2+2"}',
            "Final Answer: 4",
        ]
        return script[len(steps)]


    r = run_agent("count forever", counting_policy, tools, max_steps=5, verbose=False)
    assert r.status == "budget_exhausted" and len(r.steps) == 5 and r.answer is None
    print("budget:", r.status, "after", len(r.steps), "steps")

    r = run_agent("search forever", stuck_policy, tools, verbose=False)
    assert r.status == "stuck" and len(r.steps) == 3
    print("loop detection:", r.status, "after", len(r.steps), "steps")

    r = run_agent("what is 2+2", sloppy_policy, tools, verbose=False)
    for s in r.steps[:-1]:
        print(f"   {s.output.splitlines()[0][:48]:50} -> {s.observation[:70]}")
    errors = [s for s in r.steps if s.observation.startswith("Error")]
    assert r.status == "finished" and r.answer == "4" and len(errors) == 5
    print(
        "error handling:",
        len(errors),
        "errors returned to the policy as observations; final answer",
        r.answer,
    )


# %% note_line=539
if __name__ == "__main__":
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    SYSTEM = (
        "You are an agent that solves tasks with tools.\nTools:\n"
        + "\n".join(
            f"- {t.name}: {t.description} Arguments: {json.dumps(t.parameters)}"
            for t in tools.values()
        )
        + "\n"
        + ACTION_FORMAT
    )


    def render_prompt(task: str, steps: list[Step]) -> str:
        lines = [SYSTEM, f"Task: {task}"]
        for s in steps:
            lines += [s.output.strip(), f"Observation: {s.observation}"]
        return "\n".join(lines)


    task = "What is 17% of 2350, plus 12? And which note explains speculative decoding?"
    r = run_agent(task, scripted_policy, tools, verbose=False)
    per_step = [
        len(enc.encode(render_prompt(task, r.steps[:i]), disallowed_special=()))
        for i in range(len(r.steps))
    ]
    print("prompt tokens per step:", per_step, "| total input tokens:", sum(per_step))
    assert per_step == sorted(per_step)


# %% note_line=590
if __name__ == "__main__":
    for p in (0.99, 0.95, 0.9):
        print(
            f"per-step success {p}: "
            + ", ".join(f"{n} steps -> {p**n:.2f}" for n in (1, 5, 10, 20))
        )
    assert abs(0.95**10 - 0.60) < 0.01
