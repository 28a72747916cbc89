"""Role rewards: roles a person holds while their karma is at or above a server's thresholds.

`rewards.py` says which roles a karma earns and reads the setting as people type it; `follow.py`
decides, after a message's karma is committed, which members' roles should change and hands that
over as a neutral payload (karma/message.py, RoleChange); botgateway/roles.py applies it.
"""
