#!/usr/bin/python3
"""The ST-STDP network of neurocore (docs/st-stdp.md) written in Brian2, for the speed comparison
of issue #23 (run by scripts/reproduce/st-stdp-brian2.sh, which also runs neurocore).

It reads the neurocore run's config.yaml (every parameter) and results.json (the calibrated
V_th), the same still images and videos (OMN1 files from `neurocore data export omnist --format
omn1`), trains one pass over the images (W plastic, adaptation on, re-presentation, weight
normalisation after each image) and runs every video twice (with F plastic, then without F),
as neurocore does, and counts synaptic events with the spec's definition (st-stdp.md §4): one
per synapse read at an input spike (N per input spike), one per synapse updated at an output
spike (784 per output spike while W or F is plastic). Writes one JSON object (--out).

Differences from neurocore that Brian2 imposes (docs/st-stdp.md, "Speed against Brian2"):
- soft winner-take-all only (a threshold condition cannot compare neurons), so neurocore runs
  with model.hard_wta=false for the comparison;
- an input spike of step t reaches V at the threshold test of step t+1 (Brian2's order:
  state update, threshold, synapses, reset), one step later than in neurocore;
- between videos V, x and F are reset (run_regularly), refractoriness is not.
Target: `runtime` = Brian2's default runtime code generation (cython when it compiles, else
numpy); `numpy`; `cython`; `standalone` = C++ standalone, inference only, from the W and a of a
runtime run (--trained): the training needs Python between images for the normalisation and
the re-presentation rule, which a standalone program cannot run.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import yaml


def read_omn1(path):
    data = open(path, "rb").read()
    if data[:4] != b"OMN1":
        sys.exit(f"{path}: not an OMN1 file")
    _, count, k, h, w = struct.unpack("<5I", data[4:24])
    rows = np.frombuffer(data, np.uint8, offset=24).reshape(count, 1 + k * h * w)
    return rows[:, 0].astype(int), rows[:, 1:].reshape(count, k, h * w).astype(np.float64) / 255.0


def parameters(run_dir):
    cfg = yaml.safe_load(open(os.path.join(run_dir, "config.yaml")))
    res = json.load(open(os.path.join(run_dir, "results.json")))
    m, s = cfg["model"], cfg["learn"]["stdp"]
    # Code defaults (include/neurocore/learn/stdp.h) for keys the config leaves out.
    d = dict(tau_x=20, tau_y=20, tau_f=200, gamma=0.05, gamma_minus=0, x0=0.2, w_max=1, eta=0.01,
             x_tar=0.4, mu=0.2, weight_sum=78.4, w_init=0.3, rate_max=63.75, rate_boost=32,
             present_ms=350, rest_ms=150, min_spikes=5, max_presentations=5, frame_ms=100,
             f_in_training=False)
    d.update({k: v for k, v in s.items() if k in d})
    d.update(neurons=m.get("neurons", 400), dt=m.get("dt", 1.0), tau_m=m.get("tau_m", 100.0),
             t_ref=m.get("t_ref", 5), w_inh=m.get("w_inh", 1.0), delta_a=m.get("delta_a", 0.004),
             tau_a=m.get("tau_a", 1e7), hard_wta=m.get("hard_wta", True), v_th=res["v_th"])
    # PyYAML reads "1.0e7" as a string (YAML 1.1): numbers are converted here.
    for k, v in d.items():
        if isinstance(v, str):
            d[k] = float(v)
    for k in ("neurons", "t_ref", "present_ms", "rest_ms", "min_spikes", "max_presentations", "frame_ms"):
        d[k] = int(d[k])
    if d["gamma_minus"] != 0 or d["f_in_training"]:
        sys.exit("the Brian2 model covers gamma_minus = 0 and F off in training only")
    return d


def neuron_group(b, p, name, frozen_a):
    eqs = "dv/dt = -v/tau_m : 1 (unless refractory)\n"
    eqs += "a : 1\n" if frozen_a else "da/dt = -a/tau_a : 1\n"
    reset = "v = 0" if frozen_a else "v = 0\na += delta_a"
    return b.NeuronGroup(p["neurons"], eqs, threshold="v > vth + a", reset=reset,
                         refractory=p["t_ref"] * p["dt"] * b.ms, method="exact", name=name)


def inhibition(b, out, name):
    # Soft WTA: every other neuron loses w_inh; the floor -V_th of the spec.
    syn = b.Synapses(out, out, on_pre="v_post = clip(v_post - w_inh * int(not_refractory_post), -vth, 1e30)",
                     name=name)
    syn.connect(condition="i != j")
    return syn


def namespace(b, p):
    ms = b.ms
    return dict(tau_m=p["tau_m"] * ms, tau_a=p["tau_a"] * ms, tau_x=p["tau_x"] * ms, tau_f=p["tau_f"] * ms,
                vth=p["v_th"], w_inh=p["w_inh"] * p["v_th"], delta_a=p["delta_a"] * p["v_th"],
                wmax=p["w_max"], eta=p["eta"], x_tar=p["x_tar"], mu=p["mu"], gamma=p["gamma"], x0=p["x0"])


def normalise(w, j, p):
    sums = np.bincount(j, weights=w, minlength=p["neurons"])
    scale = np.where(sums > 0, p["weight_sum"] / np.where(sums > 0, sums, 1), 1.0)
    return np.minimum(w * scale[j], p["w_max"])


def train(b, p, images, seed):
    """One pass over `images`; returns (W as synapse-ordered array, j, a, events, cpu s, wall s)."""
    ns = namespace(b, p)
    inp = b.NeuronGroup(784, "rate : Hz\ndx/dt = -x/tau_x : 1", threshold="rand() < rate * dt",
                        reset="x += 1", method="exact", name="inp_train")
    out = neuron_group(b, p, "out_train", frozen_a=False)
    syn = b.Synapses(inp, out, "w : 1",
                     on_pre="v_post += clip(w, 0, wmax) * int(not_refractory_post)",
                     on_post="w = clip(w + eta * (x_pre - x_tar) * (wmax - w)**mu, 0, wmax)",
                     name="syn_train")
    syn.connect()
    j = np.asarray(syn.j[:])
    rng = np.random.default_rng(seed)
    syn.w_ = normalise(rng.uniform(0, p["w_init"], len(j)), j, p)
    inh = inhibition(b, out, "inh_train")
    mon_in = b.SpikeMonitor(inp, record=False, name="mon_in_train")
    mon_out = b.SpikeMonitor(out, record=False, name="mon_out_train")
    net = b.Network(inp, out, syn, inh, mon_in, mon_out)
    present, rest = p["present_ms"] * b.ms, p["rest_ms"] * b.ms
    w0, c0 = time.perf_counter(), time.process_time()
    for image in images:
        rate = p["rate_max"]
        for _ in range(p["max_presentations"]):
            before = mon_out.num_spikes
            inp.rate = image * rate * b.Hz
            net.run(present, namespace=ns)
            spikes = mon_out.num_spikes - before
            inp.rate = 0 * b.Hz
            if rest > 0:
                net.run(rest, namespace=ns)
            if spikes >= p["min_spikes"]:
                break
            rate += p["rate_boost"]
        syn.w_ = normalise(np.asarray(syn.w_[:]), j, p)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    events = mon_in.num_spikes * p["neurons"] + mon_out.num_spikes * 784
    return dict(w=np.asarray(syn.w_[:]), j=j, i=np.asarray(syn.i[:]), a=np.asarray(out.a[:]),
                events=int(events), in_spikes=int(mon_in.num_spikes), out_spikes=int(mon_out.num_spikes),
                cpu_s=cpu, wall_s=wall)


def infer(b, p, trained, videos, short_term, tag, warm_up=False):
    """Every video once, frame after frame, with F plastic or not; V, x, F reset per video.
    warm_up: the same objects (so the same generated code) run for one frame only."""
    ns = namespace(b, p)
    count, k, _ = videos.shape
    frame = p["frame_ms"] * b.ms
    # A fixed name: the generated code names the array, and the cache is keyed on the code.
    stim = b.TimedArray(videos.reshape(count * k, 784) * p["rate_max"] * b.Hz, dt=frame, name="stim_" + tag)
    ns["stim"] = stim
    inp = b.NeuronGroup(784, "dx/dt = -x/tau_x : 1", threshold="rand() < stim(t, i) * dt",
                        reset="x += 1", method="exact", name="inp_" + tag)
    out = neuron_group(b, p, "out_" + tag, frozen_a=True)
    if short_term:
        syn = b.Synapses(inp, out, "w : 1\ndF/dt = -F/tau_f : 1 (event-driven)",
                         on_pre="v_post += clip(w + F, 0, wmax) * int(not_refractory_post)",
                         on_post="F += gamma * (x_pre - x0)", name="syn_" + tag)
    else:
        syn = b.Synapses(inp, out, "w : 1",
                         on_pre="v_post += clip(w, 0, wmax) * int(not_refractory_post)", name="syn_" + tag)
    syn.connect(i=trained["i"], j=trained["j"])
    syn.w_ = trained["w"]
    out.a = trained["a"]
    video = k * frame
    objs = [inp, out, syn, inhibition(b, out, "inh_" + tag)]
    objs.append(out.run_regularly("v = 0", dt=video, when="start", name="reset_v_" + tag))
    objs.append(inp.run_regularly("x = 0", dt=video, when="start", name="reset_x_" + tag))
    if short_term:
        objs.append(syn.run_regularly("F = 0", dt=video, when="start", name="reset_f_" + tag))
    mon_in = b.SpikeMonitor(inp, record=False, name="mon_in_" + tag)
    mon_out = b.SpikeMonitor(out, name="mon_out_" + tag)
    net = b.Network(*objs, mon_in, mon_out)
    w0, c0 = time.perf_counter(), time.process_time()
    net.run(frame if warm_up else count * video, namespace=ns)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return net, mon_in, mon_out, wall, cpu


def target_name(b, target):
    """The code generation that ran: "auto" resolves to cython when it compiles here, else numpy."""
    if target == "standalone":
        return "cpp_standalone"
    if target != "runtime":
        return target
    try:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject
        return "cython (runtime)" if CythonCodeObject.is_available() else "numpy (runtime)"
    except ImportError:
        return "numpy (runtime)"


def events_of(p, n_in, n_out, short_term):
    return n_in * p["neurons"] + (n_out * 784 if short_term else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="the neurocore run directory (config.yaml, results.json)")
    ap.add_argument("--static", required=True, help="OMN1 file of the still images")
    ap.add_argument("--videos", required=True, help="OMN1 file of the test videos")
    ap.add_argument("--target", default="runtime", choices=["runtime", "numpy", "cython", "standalone"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", default="brian2-standalone")
    ap.add_argument("--out", required=True, help="the JSON result (stdout carries the C++ build's output)")
    ap.add_argument("--save-trained", help="write the trained W, a (npz) for a --trained run")
    ap.add_argument("--trained", help="skip training: W and a from a --save-trained file (standalone)")
    args = ap.parse_args()
    p = parameters(args.run)
    if p["hard_wta"]:
        sys.exit("the neurocore run must use model.hard_wta=false (Brian2 expresses soft WTA only)")
    _, still = read_omn1(args.static)
    _, videos = read_omn1(args.videos)
    still = still[:, 0, :]

    import brian2 as b
    b.prefs.logging.std_redirection = False
    if args.target == "standalone":
        # Before any object exists: the whole inference is one generated C++ program.
        b.set_device("cpp_standalone", directory=args.build_dir, build_on_run=False)
        b.prefs.devices.cpp_standalone.openmp_threads = 0
        b.prefs.devices.cpp_standalone.extra_make_args_unix = []  # make without -j: a shared 2-core machine
    else:
        b.prefs.codegen.target = "auto" if args.target == "runtime" else args.target
    b.defaultclock.dt = p["dt"] * b.ms
    b.seed(args.seed)
    result = dict(brian2=b.__version__, target=args.target, neurons=p["neurons"], images=len(still),
                  videos=len(videos), frames=int(videos.shape[1]), v_th=p["v_th"])

    if args.trained:
        trained = dict(np.load(args.trained))
    else:
        # Warm-up (2 images; 1 frame of inference), so that compilation (cython: cached on disk)
        # is not timed; the timed objects have the warm-up's names and sizes, which the cached
        # code depends on.
        warm = train(b, p, still[:2], args.seed)
        for st in (True, False):
            infer(b, p, warm, videos, st, "f" if st else "nof", warm_up=True)
        trained = train(b, p, still, args.seed)
        result["train"] = {k: trained[k] for k in ("events", "in_spikes", "out_spikes", "cpu_s", "wall_s")}
        result["train"]["codegen"] = target_name(b, args.target)
        if args.save_trained:
            np.savez(args.save_trained, **{k: trained[k] for k in ("w", "i", "j", "a")})

    ev = dict(events=0, in_spikes=0, out_spikes_f=0, cpu_s=0.0, wall_s=0.0, codegen=target_name(b, args.target))
    parts = [(infer(b, p, trained, videos, st, "f" if st else "nof"), st) for st in (True, False)]
    if args.target == "standalone":
        b.device.build(directory=args.build_dir, compile=True, run=False, debug=False)
        # The program's own run time, compilation excluded (both modes run in one program); its
        # CPU time from the children's rusage around the run alone.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        b.device.run(directory=args.build_dir, with_output=False, run_args=[])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The binary's whole run (both networks; _last_run_time would be the last network's only).
        ev["wall_s"] = float(b.device.timers["run_binary"])
        ev["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for (net, mon_in, mon_out, wall, cpu), st in parts:
        ev["events"] += int(events_of(p, mon_in.num_spikes, mon_out.num_spikes, st))
        ev["in_spikes"] += int(mon_in.num_spikes)
        if st:
            ev["out_spikes_f"] = int(mon_out.num_spikes)
        if args.target != "standalone":
            ev["cpu_s"] += cpu
            ev["wall_s"] += wall
    result["eval"] = ev
    with open(args.out, "w") as f:
        f.write(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
