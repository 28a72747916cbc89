"""PNG charts of the pipeline benchmark (matplotlib, no screen needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def latency(rows, path):
    loads = [row["offered/s"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key in ("p50 ms", "p95 ms", "p99 ms"):
        axes.plot(loads, [row[key] for row in rows], marker="o", label=key.split()[0])
    axes.set_xlabel("offered load (messages/s)")
    axes.set_ylabel("message to reply (ms)")
    axes.set_yscale("log")
    axes.set_title("Latency against offered load")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def throughput(rows, path):
    labels = [f"{row['workers']}w {row['pool']}\nx {row['concurrency']}" for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.bar(labels, [row["messages/s"] for row in rows], color="#5865F2")
    axes.set_xlabel("worker processes, pool x concurrency")
    axes.set_ylabel("messages/s (first send to last reply)")
    axes.set_title("Saturation throughput against workers")
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
