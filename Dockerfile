# One image for every Popple process; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc pkg-config libmariadb-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# The app folder is the popple user's: runbot's default SQLite file (db.sqlite3) goes there.
RUN useradd --create-home popple && mkdir -p var && chown popple . var
USER popple

ENV PYTHONUNBUFFERED=1
EXPOSE 8000 5555
CMD ["python", "manage.py", "runbot"]
