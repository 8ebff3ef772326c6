"""The accuracy-versus-rho plot of an EfQAT sweep (one bit-width), shared by efqat_summary.py
(ResNet-20 runs) and efqat_mlp_plot.py (the MLP sweep of nc_efqat_accuracy)."""
import os
import shutil
import subprocess


def plot_rho(out, bits, title, acc, ptq, qat, name=None):
    """acc: {mode: {rho (fraction): accuracy %}}; ptq, qat: accuracies or None.
    Writes OUT/<name or efqat-BITS>.dat and .svg; returns the svg's file name, or None
    without gnuplot."""
    if not shutil.which("gnuplot"):
        return None
    base = name or f"efqat-{bits}"
    dat = os.path.join(out, base + ".dat")
    modes = [m for m in ("cwpn", "cwpl", "lwpn") if m in acc]
    with open(dat, "w") as f:
        for mode in modes:
            f.write(f'"{mode}"\n')
            for r in sorted(acc[mode]):
                if r > 0:  # a log axis: rho = 0 is PTQ's line
                    f.write(f"{100 * r} {acc[mode][r]}\n")
            f.write("\n\n")
    svg = os.path.join(out, base + ".svg")
    script = f"""
set terminal svg size 640,420 dynamic
set output '{svg}'
set title '{title}, {bits}: EfQAT (1 epoch) vs unfrozen fraction'
set xlabel 'unfrozen fraction rho (%)'
set ylabel 'test accuracy (%)'
set logscale x
set xrange [0.8:100]
set key bottom right
set grid
plot for [i=0:{len(modes) - 1}] '{dat}' index i using 1:2 with linespoints title columnheader(1), \\
     {ptq if ptq is not None else 'NaN'} with lines dashtype 2 title 'PTQ', \\
     {qat if qat is not None else 'NaN'} with lines dashtype 3 title 'QAT (1 epoch)'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return base + ".svg"
