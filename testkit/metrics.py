"""A Popple process's Prometheus figures, as its METRICS_PORT serves them to a scraper."""

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(port):
    """{(name, labels as a sorted tuple): value} from http://127.0.0.1:port/metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)
