"""deploy/k8s: the manifests parse; kinds and apiVersions are the ones the
cluster serves; selectors match the pod labels; the Service reaches the
coordinator's port and the workers' --coordinator names it; every volume,
ConfigMap, Secret, key and claim that is referenced exists; the coordinator
is one replica, recreated; the workers have resources; the containers' args
are real flags of the binaries; the spec in the ConfigMap is the example
spec; `kubectl kustomize` builds it when kubectl is here."""
import os
import re

from deploy_common import SRC, all_options, check, finish, have, run, skip

try:
    import yaml
except ImportError:
    skip("python3-yaml is not installed (deploy/install-deps.sh installs it)")

K8S = os.path.join(SRC, "deploy", "k8s")
API = {"Deployment": "apps/v1", "Service": "v1", "PersistentVolumeClaim": "v1",
       "Secret": "v1", "ConfigMap": "v1", "Kustomization": "kustomize.config.k8s.io/v1beta1"}

kust = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml")))
check(kust.get("kind") == "Kustomization" and kust.get("apiVersion") == API["Kustomization"],
      "kustomization.yaml: wrong kind/apiVersion")
files = kust.get("resources", [])
on_disk = sorted(f for f in os.listdir(K8S) if f.endswith(".yaml") and f != "kustomization.yaml")
check(sorted(files) == on_disk, f"kustomization resources {sorted(files)} != files {on_disk}")

docs = []
for f in files:
    for d in yaml.safe_load_all(open(os.path.join(K8S, f))):
        if d is not None:
            docs.append((f, d))
by = {}
for f, d in docs:
    kind, name = d.get("kind"), d.get("metadata", {}).get("name")
    check(kind in API and d.get("apiVersion") == API[kind], f"{f}: {kind} with apiVersion {d.get('apiVersion')}")
    check(bool(name) and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name or ""), f"{f}: bad name {name!r}")
    check((kind, name) not in by, f"{f}: {kind}/{name} defined twice")
    by[(kind, name)] = d


def get(kind, name):
    return by.get((kind, name))


deps = {n: d for (k, n), d in by.items() if k == "Deployment"}
check(set(deps) == {"hptune-coordinator", "hptune-worker"}, f"Deployments: {sorted(deps)}")

for name, d in deps.items():
    spec = d["spec"]
    sel = spec["selector"]["matchLabels"]
    labels = spec["template"]["metadata"]["labels"]
    check(sel and all(labels.get(k) == v for k, v in sel.items()), f"{name}: selector {sel} does not match {labels}")
    pod = spec["template"]["spec"]
    sc = pod.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0, f"{name}: may run as root")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod.get("initContainers", []) + pod["containers"]:
        csc = c.get("securityContext", {})
        check(csc.get("allowPrivilegeEscalation") is False and "ALL" in csc.get("capabilities", {}).get("drop", []),
              f"{name}/{c['name']}: privilege escalation or capabilities allowed")
        for m in c.get("volumeMounts", []):
            check(m["name"] in vols, f"{name}/{c['name']}: mounts undefined volume {m['name']}")
    for v in vols.values():
        if "configMap" in v:
            check(get("ConfigMap", v["configMap"]["name"]), f"{name}: ConfigMap {v['configMap']['name']} missing")
        if "secret" in v:
            check(get("Secret", v["secret"]["secretName"]), f"{name}: Secret {v['secret']['secretName']} missing")
        if "persistentVolumeClaim" in v:
            check(get("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]),
                  f"{name}: PVC {v['persistentVolumeClaim']['claimName']} missing")

    # Files the init container copies out of the Secret exist in it.
    mounts_of = lambda c: {m["mountPath"]: vols[m["name"]] for m in c.get("volumeMounts", []) if m["name"] in vols}
    init_cmd = " ".join(" ".join(c.get("command", []) + c.get("args", [])) for c in pod.get("initContainers", []))
    for ic in pod.get("initContainers", []):
        for mp, v in mounts_of(ic).items():
            if "secret" in v:
                sec = get("Secret", v["secret"]["secretName"]) or {}
                keys = set(sec.get("stringData", {})) | set(sec.get("data", {}))
                for k in re.findall(re.escape(mp) + r"/([\w.-]+)", init_cmd):
                    check(k in keys, f"{name}: init copies {mp}/{k}, not a key of Secret {v['secret']['secretName']}")

    # The main container: its args use real flags; files they name are in a
    # ConfigMap key, or put in place by the init container.
    c = pod["containers"][0]
    argv = c.get("command", []) + c.get("args", [])
    binary = argv[0] if argv else ""
    check(binary in ("hptune-coordinator", "hptune-worker"), f"{name}: runs {binary!r}")
    if binary in ("hptune-coordinator", "hptune-worker"):
        opts = all_options(binary)
        for a in argv[1:]:
            if a.startswith("--"):
                check(a[2:].split("=")[0] in opts, f"{name}: {a} is not an option of {binary}")
    mounts = mounts_of(c)
    for i, a in enumerate(argv[1:], 1):
        if not a.startswith("/etc/"):
            continue
        mp = max((m for m in mounts if a.startswith(m + "/")), key=len, default=None)
        if not check(mp, f"{name}: {argv[i - 1]} {a} is on no mounted volume"):
            continue
        rel, v = a[len(mp) + 1:], mounts[mp]
        if "configMap" in v:
            cm = get("ConfigMap", v["configMap"]["name"]) or {}
            check(rel in cm.get("data", {}), f"{name}: {a}: no key {rel} in ConfigMap {v['configMap']['name']}")
        elif "emptyDir" in v:
            check(re.search(r"/%s(\s|$|&)" % re.escape(rel), init_cmd),
                  f"{name}: {a} is on an emptyDir the init container does not fill")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    if name == "hptune-coordinator":
        check(spec.get("replicas") == 1 and spec.get("strategy", {}).get("type") == "Recreate",
              "coordinator: not 1 replica with the Recreate strategy")
        check(any("persistentVolumeClaim" in v for v in vols.values()), "coordinator: journal not on a PVC")
        coord_port = None
        if "--bind" in argv:
            m = re.match(r"tcp://0\.0\.0\.0:(\d+)$", argv[argv.index("--bind") + 1])
            check(m, f"coordinator: --bind {argv[argv.index('--bind') + 1]} is not tcp://0.0.0.0:PORT")
            coord_port = int(m.group(1)) if m else None
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(coord_port in ports.values(), f"coordinator: containerPort {ports} is not the --bind port")
        check("--curve-secret" in argv or "--insecure" in argv, "coordinator: binds beyond loopback without keys")
        for e in ("HPTUNE_CURVE_SECRET", "HPTUNE_SERVER_KEY"):
            if e in env:
                p = env[e]
                mp = max((m for m in mounts if p.startswith(m + "/")), key=len, default=None)
                check(mp and re.search(r"/%s(\s|$|&)" % re.escape(p[len(mp) + 1:]), init_cmd),
                      f"coordinator: {e}={p} is not put in place")
        svc = get("Service", "hptune-coordinator")
        if check(svc, "no Service hptune-coordinator"):
            ssel = svc["spec"]["selector"]
            labels = spec["template"]["metadata"]["labels"]
            check(all(labels.get(k) == v for k, v in ssel.items()), "Service selector does not match the coordinator")
            wlabels = deps.get("hptune-worker", {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
            check(not all(wlabels.get(k) == v for k, v in ssel.items()), "Service selector also matches workers")
            sp = svc["spec"]["ports"][0]
            tp = sp.get("targetPort", sp["port"])
            check(tp in ports or tp in ports.values(), f"Service targetPort {tp} is not a coordinator port")
    else:
        check(isinstance(spec.get("replicas"), int) and spec["replicas"] >= 1, "worker: no replicas")
        res = c.get("resources", {})
        check(res.get("requests", {}).get("cpu") and res.get("limits", {}).get("memory"),
              "worker: no cpu request or memory limit")
        if "--coordinator" in argv:
            ep = argv[argv.index("--coordinator") + 1]
            svc = get("Service", "hptune-coordinator")
            want = f"tcp://hptune-coordinator:{svc['spec']['ports'][0]['port']}" if svc else None
            check(ep == want, f"worker: --coordinator {ep}, the Service is {want}")
        if "--slots" in argv:
            check(str(argv[argv.index("--slots") + 1]) == str(res.get("limits", {}).get("cpu")),
                  "worker: --slots differs from its CPU limit")
        check("--curve-secret" in argv and "--server-key" in argv, "worker: no CurveZMQ keys")
        check(pod.get("terminationGracePeriodSeconds", 30) >= 60, "worker: too short a grace period to drain")

# The spec in the ConfigMap is the example spec.
specs = get("ConfigMap", "hptune-specs")
if check(specs, "no ConfigMap hptune-specs"):
    for k, text in specs["data"].items():
        ex = os.path.join(SRC, "deploy", "examples", k)
        if check(os.path.isfile(ex), f"hptune-specs: {k} is not an example spec"):
            check(yaml.safe_load(text) == yaml.safe_load(open(ex)), f"hptune-specs: {k} differs from {ex}")

# Config files in the ConfigMap: every key is a real option.
cfg = get("ConfigMap", "hptune-config")
if check(cfg, "no ConfigMap hptune-config"):
    for k, exe in (("coordinator.conf", "hptune-coordinator"), ("worker.conf", "hptune-worker")):
        opts = all_options(exe)
        for line in cfg["data"].get(k, "").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key = line.split()[0].replace("_", "-")
                check(key in opts, f"hptune-config {k}: '{line.split()[0]}' is not a key of {exe}")

if have("kubectl"):
    r = run(["kubectl", "kustomize", K8S])
    if r.returncode != 0 and ("connect" in r.stderr or "unknown command" in r.stderr):
        print("note: kubectl kustomize unavailable: " + r.stderr.strip()[:200])
    else:
        check(r.returncode == 0 and "kind: Deployment" in r.stdout, f"kubectl kustomize: {r.stderr}")
finish()
