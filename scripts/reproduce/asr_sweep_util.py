"""Shared helpers of the ASR table scripts (asr_digits_table.py, asr_digits_lr_table.py)."""
import statistics


def ms(xs, digits=3):
    """Mean ± sample standard deviation, or the single value."""
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def short(commits):
    return ", ".join(sorted({c[:7] for c in commits}))


def done_runs(setting):
    """The finished runs of one sweep setting (failed or missing ones left out)."""
    return [r for r in setting["runs"] if r["status"] == "done"]
