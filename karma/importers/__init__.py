"""Data brought in from elsewhere: gopopple.py reads the original Popple's database
(`manage.py import_popple`)."""
