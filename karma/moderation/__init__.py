"""Moderators' tools: changes made by hand (actions.py, used by the admin, karma/admin.py) and a
server's data exported (export.py, used by the admin and `manage.py export_karma`)."""
