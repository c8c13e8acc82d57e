"""The W&B sweep-config corpus (tests/spec/wandb/): each NAME.yaml is a sweep
config written the way W&B users publish theirs, and NAME.expected is what
`hptune check NAME.yaml --trials 5` must print for it, exactly: for a valid
config the resolved account (method, counts, the parameter table with its
defaults, the first trials, how names were read, the warnings), for an
invalid one every error with its position.

Also checked: the corpus has at least 25 configs, and each W&B form issue 12
lists appears in at least two of them (FORMS below), so a form cannot drop
out of the corpus unnoticed.

Usage: test_wandb_corpus.py HPTUNE CORPUS_DIR [--update]
--update rewrites the .expected files from the current output; read the diff
before committing it: the files are the specification.
"""
import os
import re
import subprocess
import sys

# Issue 12's forms: a regular expression each, matched against the configs'
# text.  Each must occur in at least two configs.
FORMS = {
    "metric val_*": r"name: val_",
    "metric without prefix or in capitals": r"name: (loss|Accuracy|accuracy)\n",
    "metric train_*": r"name: train_",
    "no dataset key": None,                      # counted below
    "no budget with random or bayes": None,      # counted below
    "program": r"^program:",
    "project": r"^project:",
    "command": r"^command:",
    "entity": r"^entity:",
    "description": r"^description:",
    "optimizer momentum": r"values: \[[^\]]*\bmomentum\b",
    "optimizer nag": r"\bnag\b",
    "optimizer rms": r"\brms\b",
    "optimizer adamw": r"\badamw\b",
    "init xavier": r"(?i)\bxavier\b",
    "init he": r"\bhe\b",
    "init random": r"\brandom\]|\[random\b|value: random",
    "activation ReLU": r"\bReLU\b",
    "activation identity": r"\bidentity\b",
    "parameter lr": r"^\s+lr:",
    "parameter hidden_size": r"^\s+hidden_size:",
    "parameter num_layers": r"^\s+num_layers:",
    "parameter hidden_layers": r"^\s+hidden_layers:",
    "parameter weight_init": r"^\s+weight_init:",
    "parameter weight_decay or wd": r"^\s+(weight_decay|wd):",
    "parameter batch": r"^\s+batch:",
    "parameter num_epochs": r"^\s+num_epochs:",
    "min/max without distribution": None,        # counted below
    "early_terminate hyperband": r"^early_terminate:",
    "architecture lists": r"values: \[\[",
    "q_log_uniform_values": r"distribution: q_log_uniform_values",
    "legacy log_uniform": r"distribution: log_uniform\n",
    "normal": r"distribution: normal",
    "q_normal": r"distribution: q_normal",
    "log_normal": r"distribution: log_normal",
    "inv_log_uniform_values": r"distribution: inv_log_uniform_values",
    "log_uniform_values on an integer parameter": r"(units|batch_size|hidden_size):\n\s+distribution: log_uniform_values",
    "quoted numbers": r"\"[0-9.]+\"",
    "null in values": r"\bnull\b",
    "nested parameters": r"^\s+parameters:",
    "metric.target": r"^\s+target:",
    "weight decay (L2)": r"^\s+(weight_decay|wd):",
}


def run(hptune, corpus, name):
    p = subprocess.run([hptune, "check", name, "--trials", "5"], cwd=corpus,
                       capture_output=True, text=True, timeout=60)
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)


def main():
    hptune, corpus = os.path.abspath(sys.argv[1]), sys.argv[2]
    update = "--update" in sys.argv[3:]
    names = sorted(f for f in os.listdir(corpus) if f.endswith(".yaml"))
    fails = []
    if len(names) < 25:
        fails.append("only %d configs in the corpus (at least 25)" % len(names))
    texts = {n: open(os.path.join(corpus, n)).read() for n in names}
    for form, rx in FORMS.items():
        if rx is not None:
            have = [n for n in names if re.search(rx, texts[n], re.M)]
        elif form == "no dataset key":
            have = [n for n in names if not re.search(r"^dataset:|^\s+dataset:", texts[n], re.M)]
        elif form == "no budget with random or bayes":
            have = [n for n in names if re.search(r"^method: (random|bayes)", texts[n], re.M)
                    and not re.search(r"^(run_cap|budget):", texts[n], re.M)]
        else:  # min/max without distribution
            have = [n for n in names
                    if re.search(r":\n\s+min: [^\n]+\n\s+max:", texts[n])
                    and re.search(r"^\s+\w+:\n\s+min:", texts[n], re.M)]
        if len(have) < 2:
            fails.append("form '%s' appears in %d config(s) (at least 2): %s"
                         % (form, len(have), ", ".join(have) or "none"))
    # docs/spec.md carries the alias table exactly as `hptune spec aliases`
    # prints it.
    docs = os.path.join(corpus, "..", "..", "..", "docs", "spec.md")
    table = subprocess.run([hptune, "spec", "aliases"], capture_output=True, text=True).stdout
    if not table or table not in open(docs).read():
        fails.append("docs/spec.md does not carry `hptune spec aliases` verbatim "
                     "(paste its output into the alias table section)")
    for n in names:
        got = run(hptune, corpus, n)
        exp_path = os.path.join(corpus, n[:-5] + ".expected")
        if update:
            with open(exp_path, "w") as f:
                f.write(got)
            continue
        if not os.path.exists(exp_path):
            fails.append("%s: no %s" % (n, os.path.basename(exp_path)))
            continue
        want = open(exp_path).read()
        if got != want:
            gl, wl = got.splitlines(), want.splitlines()
            for i in range(max(len(gl), len(wl))):
                g = gl[i] if i < len(gl) else "<end>"
                w = wl[i] if i < len(wl) else "<end>"
                if g != w:
                    fails.append("%s: line %d differs\n  want: %s\n  got:  %s" % (n, i + 1, w, g))
                    break
    if update:
        print("updated %d expected files" % len(names))
        return 0
    for f in fails:
        print("FAIL " + f)
    valid = 0
    for n in names:
        exp_path = os.path.join(corpus, n[:-5] + ".expected")
        if os.path.exists(exp_path) and open(exp_path).read().startswith("exit 0"):
            valid += 1
    print("%d configs (%d valid, %d refused with their errors), %d forms, %d failure(s)"
          % (len(names), valid, len(names) - valid, len(FORMS), len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
