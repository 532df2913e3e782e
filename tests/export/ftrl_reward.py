# The FTRL per-step reward and its tool executor, stated in Python from method.md §3-4 (not copied from the reference),
# as a trainer's reward function would run it on exported rows: the row's `codes` are exec'd and called by name.
# Used by tests/export/reference-reward.test.ts; the README's verl recipes are these two functions.
import json
import re
import sys

END_TOKENS = ("<|endoftext|>", "<|im_end|>")
MALFORMED = ("<tool_call>", "</tool_call>", "<tool_parsed_response>")
TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def strip_end(text):
    text = text.rstrip()
    for token in END_TOKENS:
        if text.endswith(token):
            text = text[: -len(token)].rstrip()
    return text


def parse_calls(text):
    """Hermes/Qwen blocks; a block whose JSON does not parse, or whose arguments are not an object, is dropped."""
    calls = []
    for block in TOOL_CALL.findall(text):
        try:
            call = json.loads(block.strip())
            args = call["arguments"]
            if isinstance(args, str):
                args = json.loads(args)
            if not isinstance(call["name"], str) or not isinstance(args, dict):
                continue
        except Exception:
            continue
        calls.append((call["name"], args))
    return calls


def normalize(text):
    return text.lower().replace(",", "").strip()


def verify(output, golden):
    out = normalize(output)
    return all(normalize(piece) in out for piece in golden.split(", "))


def execute(codes, name, arguments):
    """exec the tool's code alone, call the function of its name; errors in the reference's words."""
    try:
        namespace = {}
        exec(codes[name], namespace)
        result = namespace[name](**arguments)
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    except Exception as e:
        return "an error occured when call %s: %s" % (name, e)


def compute_score(response, codes, unsolved_set, solve_rate, split=None, answer=None):
    """The FTRL fork's signature; the default 2q/(p+1) variant. codes and unsolved_set may be JSON text."""
    codes = json.loads(codes) if isinstance(codes, str) else codes
    pending = json.loads(unsolved_set) if isinstance(unsolved_set, str) else unsolved_set
    pending = {tool: list(subs) for tool, subs in pending.items()}
    text = strip_end(response)
    calls = parse_calls(text)
    if calls:
        solved = 0
        outputs = []
        for name, args in calls:
            output = execute(codes, name, args) if name in codes else "an error occured when call %s: no such tool" % name
            outputs.append(output)
            for golden in pending.get(name, []):
                if verify(output, golden):
                    pending[name].remove(golden)
                    solved += 1
                    break
        return {"score": 2 * solved / (len(calls) + 1), "outputs": outputs}
    left = sum(len(subs) for subs in pending.values())
    if text == "":
        score = -0.5
    elif any(m in text for m in MALFORMED):
        score = -0.3
    elif answer is not None and normalize(answer) in normalize(text):
        score = 1 / (1 + left)
    elif float(solve_rate) == 1:
        score = 0.5
    else:
        score = 0.0
    return {"score": score, "outputs": []}


def compute_score_verl(data_source, solution_str, ground_truth, extra_info=None):
    """Stock verl's signature: the row's state, tools and codes travel in extra_info, the final answer is the ground truth."""
    info = extra_info or {}
    return compute_score(solution_str, info["codes"], info["unsolved_set"], info["solve_rate"], info.get("split"), ground_truth)["score"]


if __name__ == "__main__":
    # One JSON object per line: {"kind": "ftrl", "row": {...}, "response": "..."} or {"kind": "verl", "row": {...}, "response": "..."}.
    results = []
    for line in sys.stdin:
        item = json.loads(line)
        row = item["row"]
        if item["kind"] == "verl":
            results.append({"score": compute_score_verl(row["data_source"], item["response"], row["reward_model"]["ground_truth"], row["extra_info"])})
        else:
            results.append(compute_score(item["response"], row["codes"], row["unsolved_set"], row["solve_rate"], row["split"], row["answer"]))
    json.dump(results, sys.stdout, ensure_ascii=False)
