"""JSON for Django's Redis cache, instead of the pickle Django uses by default.

Unpickling runs whatever code the data names, and what Django's cache reads comes from Redis,
which every process that uses it can write to: a planted value would run in the reply workers,
which hold the bot's token. Popple caches only marks and timestamps, which JSON holds.
"""

import json


class JSONSerializer:
    def dumps(self, obj):
        # As Django's own: an integer stays a plain Redis integer, so that incr() and decr() work.
        if type(obj) is int:
            return obj
        return json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data):
        try:
            return int(data)
        except ValueError:
            pass
        try:
            return json.loads(data)
        except ValueError:  # not JSON (pickled by an older Popple, or planted): as if absent
            return None
