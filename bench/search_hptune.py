#!/usr/bin/python3
"""search_hptune.py: the hptune half of bench/search.sh.

Runs one sweep per (method, seed) through a coordinator and workers that
bench/search.sh has started: writes the spec (bench/search_space.py),
`hptune launch`, waits with `hptune status ID --watch` while checking that
every daemon is still alive, then reads `hptune results ID --format json`
and, from the coordinator's journal, the epochs each task actually trained
(`epochs - resumed_from`: an asha promotion continued from its parent's
model trains only the difference).  Appends one JSON record per run to
--records (JSON lines), which bench/search_report.py reads.

Exit status: 0 all ran; 1 some method failed (a refused spec, a sweep that
did not end done, unreadable results): its message is on stderr, a
{"skipped": "FAILED: ..."} record stands for it, its later seeds are not
run, and the other methods go on; 3 a daemon died or a sweep hung: stop at
once.  `method: asha` refused at launch (exit 2, before it lands) is not a
failure: it is skipped with a message and a {"skipped": ...} record.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

import search_space as space


class SweepFailed(Exception):
    pass


def die(msg):
    """Fatal: the cluster is not usable any more."""
    print("search_hptune.py: " + msg, file=sys.stderr)
    sys.exit(3)


def failed(msg):
    """This method failed; the others can go on."""
    raise SweepFailed(msg)


def alive(pid):
    """Whether pid runs (a zombie, i.e. exited but not yet reaped by the
    shell that started it, counts as dead)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def check_daemons(daemons):
    for name, pid in daemons:
        if not alive(pid):
            die("%s (pid %d) exited while the benchmark ran; see its log below" % (name, pid))


def cli(args, opts, timeout=60):
    return subprocess.run([opts.cli] + args, capture_output=True, text=True, timeout=timeout)


def journal_epochs(db, sweep):
    """{trial: epochs trained over all its done folds} from the journal, and
    whether resumed_from was available; None when the journal cannot be
    read."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        cols = {r[1] for r in con.execute("PRAGMA table_info(tasks)")}
        resumed = "resumed_from" in cols
        q = ("SELECT trial, epochs, %s FROM tasks WHERE sweep = ? AND refit = 0 "
             "AND state = 'done'" % ("COALESCE(resumed_from, 0)" if resumed else "0"))
        out = {}
        for trial, ep, rf in con.execute(q, (sweep,)):
            out[trial] = out.get(trial, 0) + max(0, (ep or 0) - (rf or 0))
        failed = con.execute("SELECT COUNT(*) FROM tasks WHERE sweep = ? AND refit = 0 "
                             "AND state = 'failed'", (sweep,)).fetchone()[0]
        con.close()
        return out, resumed, failed
    except sqlite3.Error as e:
        print("search_hptune.py: note: cannot read the journal (%s); epochs are counted "
              "from the trials' epochs parameter" % e, file=sys.stderr)
        return None, False, None


def run_one(method, seed, opts, daemons, records):
    kw = {}
    if method in ("random", "bayes", "bayes-seq"):
        kw["max_trials"] = opts.budget
    elif method == "coordinate":
        kw["max_trials"] = opts.budget
    elif method == "asha":
        kw["max_trials"] = opts.asha_configs
        kw["asha"] = (opts.asha_min, opts.epochs, opts.asha_eta)
    text = space.spec_text(method, seed, opts.epochs, **kw)
    path = os.path.join(opts.tmp, "%s-s%d.yaml" % (method, seed))
    with open(path, "w") as f:
        f.write(text)
    check_daemons(daemons)
    t0 = time.time()
    r = cli(["launch", path], opts)
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        msg = msg[-1] if msg else "exit %d" % r.returncode
        msg = msg.replace(path, os.path.basename(path))
        if method == "asha" and r.returncode == 2:
            print("asha SKIPPED: this build refuses `method: asha` (%s); re-run when asha "
                  "has landed" % msg, file=sys.stderr)
            records.write(json.dumps({"method": method, "impl": "hptune", "seed": seed,
                                      "skipped": msg}) + "\n")
            records.flush()
            return False
        failed("hptune launch %s failed (exit %d): %s" % (path, r.returncode, msg))
    sid = int(r.stdout.split()[0])
    print("  %-10s seed %d: sweep %d launched (%s)" % (method, seed, sid, r.stderr.strip()),
          file=sys.stderr)

    # `status --watch` keeps waiting through a coordinator that went quiet,
    # so the daemons are checked here meanwhile.
    w = subprocess.Popen([opts.cli, "status", str(sid), "--watch"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while w.poll() is None:
            check_daemons(daemons)
            if time.time() - t0 > opts.sweep_timeout:
                die("sweep %d (%s, seed %d) not finished after %d s"
                    % (sid, method, seed, opts.sweep_timeout))
            time.sleep(0.2)
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    if w.returncode != 0:
        failed("sweep %d (%s, seed %d) did not end done (status --watch exit %d): %s"
            % (sid, method, seed, w.returncode, w.stderr.read().strip()))
    r = cli(["results", str(sid), "--format", "json"], opts)
    if r.returncode != 0:
        failed("hptune results %d failed (exit %d): %s" % (sid, r.returncode, r.stderr.strip()))
    raw = os.path.join(opts.out, "runs", "hptune-%s-s%d.json" % (method, seed))
    with open(raw, "w") as f:
        f.write(r.stdout)
    doc = json.loads(r.stdout)
    sw, cv = doc["sweep"], doc["cv_results"]
    if sw["state"] != "done":
        failed("sweep %d ended %s: %s" % (sid, sw["state"], sw.get("error")))

    ep, resumed, failed_tasks = journal_epochs(opts.db, sid)
    parents = cv.get("parent_trial") or [None] * len(cv["trial"])
    trials = []
    for i, n in enumerate(cv["trial"]):
        params = cv["params"][i]
        if ep is not None:
            e = ep.get(n, 0)
        else:
            e = int(params.get("epochs", opts.epochs)) * space.FOLDS
        trials.append({"trial": n, "score": cv["mean_test_score"][i], "epochs": e,
                       "state": cv["state"][i], "parent": parents[i] or None,
                       "params": params})
    trials.sort(key=lambda t: t["trial"])
    rec = {"method": method, "impl": "hptune", "seed": seed, "sweep": sid,
           "wall_s": sw["finished_unix"] - sw["created_unix"],
           "launch_to_done_s": time.time() - t0,
           "trials_failed": sw.get("trials_failed"), "tasks_failed": failed_tasks,
           "epochs_source": ("journal: epochs - resumed_from" if resumed else
                             "journal: epochs" if ep is not None else "params"),
           "best": sw["best_mean_test_score"], "best_params": sw["best_params"],
           "trials": trials}
    records.write(json.dumps(rec) + "\n")
    records.flush()
    print("  %-10s seed %d: %d trials, %d epochs, best %.4f, %.1f s"
          % (method, seed, len(trials), sum(t["epochs"] for t in trials),
             sw["best_mean_test_score"] or float("nan"), rec["wall_s"]), file=sys.stderr)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--db", required=True, help="the coordinator's journal")
    ap.add_argument("--tmp", required=True, help="where spec files go")
    ap.add_argument("--out", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--daemon", action="append", default=[], help="NAME:PID to watch")
    ap.add_argument("--methods", default="grid,random,bayes,coordinate,asha")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--budget", type=int, required=True)
    ap.add_argument("--asha-configs", type=int, required=True)
    ap.add_argument("--asha-min", type=int, default=2)
    ap.add_argument("--asha-eta", type=int, default=3)
    ap.add_argument("--sweep-timeout", type=int, default=1800)
    opts = ap.parse_args()
    daemons = []
    for d in opts.daemon:
        name, pid = d.rsplit(":", 1)
        daemons.append((name, int(pid)))
    os.makedirs(os.path.join(opts.out, "runs"), exist_ok=True)
    methods = [m for m in opts.methods.split(",") if m]
    skipped, rc = set(), 0
    with open(opts.records, "a") as records:
        for seed in [int(s) for s in opts.seeds.split(",")]:
            for m in methods:
                if m in skipped:
                    continue
                try:
                    if not run_one(m, seed, opts, daemons, records):
                        skipped.add(m)
                except SweepFailed as e:
                    print("search_hptune.py: %s FAILED: %s (its remaining seeds are not run)"
                          % (m, e), file=sys.stderr)
                    records.write(json.dumps({"method": m, "impl": "hptune", "seed": seed,
                                              "skipped": "FAILED: %s" % e}) + "\n")
                    records.flush()
                    skipped.add(m)
                    rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
