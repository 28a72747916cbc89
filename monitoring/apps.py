from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # The domain counts nothing itself: it says what it did, and the metrics count it here.
        from karma.ledger.writes import version_applied
        from monitoring import metrics

        version_applied.connect(metrics.count_karma, dispatch_uid="monitoring.count_karma")
