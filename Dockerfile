# One image for every Popple process; docker-compose.yml picks the command.
# Two stages: the first compiles the Python packages (mysqlclient needs gcc and MariaDB's headers)
# into a virtual environment; the second gets that environment and the client library only.

FROM python:3.11-slim-bookworm AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc pkg-config libmariadb-dev \
    && rm -rf /var/lib/apt/lists/*

# The lock of the whole tree, every file checked against its hash (scripts/lock writes it).
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes -r /tmp/requirements.txt


FROM python:3.11-slim-bookworm

# mysqlclient's shared library, without compiler or headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# The code is root's, read-only for the popple user, who can write var/ only (the gateway's
# outbox files go there, and the SQLite database below).
WORKDIR /app
COPY . .
RUN useradd --system --uid 999 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin popple \
    && chmod -R go-w /app \
    && install -d -o popple -g popple -m 0750 /app/var
# runbot's default SQLite file is db.sqlite3 in the project folder, which popple cannot write: keep
# it in var/ instead (a volume there keeps it). docker-compose.yml sets its own DATABASE_URL.
ENV DATABASE_URL=sqlite:////app/var/db.sqlite3
USER popple

EXPOSE 8000 5555
CMD ["python", "manage.py", "runbot"]
