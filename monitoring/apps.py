from celery.signals import after_task_publish
from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # The domain counts nothing itself: it says what it did, and the metrics count it here.
        from karma.ledger.writes import version_applied
        from monitoring import metrics

        version_applied.connect(metrics.count_karma, dispatch_uid="monitoring.count_karma")
        # What each message costs: statements, task publishes (Redis round trips are counted by
        # botgateway's client, botgateway/redis_client.py).
        connection_created.connect(metrics.count_queries, dispatch_uid="monitoring.count_queries")
        after_task_publish.connect(metrics.count_publish, dispatch_uid="monitoring.count_publish")
