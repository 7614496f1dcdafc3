#!/usr/bin/env python3
"""Generates the sample HR export: samples/hr_export.csv and samples/hr_export.jsonl.

A fictitious Spanish company group of 300 people, deterministic (fixed seed), with the columns
that let samples/usersync.toml feed all four providers. About 5% of the rows are deliberately
wrong, one kind of mistake each (listed in BAD_ROWS below), so that `usersync validate` has
something to show. Both files hold the same people; the JSONL keeps `company_id` as a number.

Run from the repository root: python3 samples/generate.py
"""

import csv
import json
import os
import random
import unicodedata
import uuid

SEED = 20240611
PEOPLE = 300
HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "empresa.example.com"

FIRST_F = ["María", "Lucía", "Carmen", "Ana", "Laura", "Marta", "Paula", "Sara", "Elena",
           "Cristina", "Nuria", "Pilar", "Rocío", "Inés", "Begoña", "Montserrat", "Ainhoa",
           "Irene", "Sofía", "Alba", "Noelia", "Raquel", "Beatriz", "Núria", "Itziar"]
FIRST_M = ["José", "Antonio", "Manuel", "Francisco", "David", "Javier", "Daniel", "Carlos",
           "Miguel", "Alejandro", "Pablo", "Sergio", "Jorge", "Álvaro", "Iñaki", "Jordi",
           "Rubén", "Adrián", "Óscar", "Raúl", "Andrés", "Xabier", "Íñigo", "Joan", "Marc"]
SURNAMES = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
            "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
            "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres",
            "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
            "Castillo", "Ortega", "Núñez", "Peña", "Iglesias", "Etxeberria", "Puig", "Vidal",
            "Ibáñez", "Sáez", "Castaño", "Ferrer", "Garrido", "Rubio", "Soler", "Santos"]
CITIES = [  # city, postal code prefix, province
    ("Madrid", "280"), ("Barcelona", "080"), ("Valencia", "460"), ("Sevilla", "410"),
    ("Zaragoza", "500"), ("Málaga", "290"), ("Bilbao", "480"), ("A Coruña", "150"),
    ("Valladolid", "470"), ("Palma", "070"), ("Murcia", "300"), ("Alicante", "030"),
    ("Córdoba", "140"), ("Granada", "180"), ("Vigo", "362"), ("Gijón", "332"),
    ("L'Hospitalet de Llobregat", "089"), ("Donostia-San Sebastián", "200"),
]
STREETS = ["Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de Gracia",
           "Calle de Alcalá", "Gran Vía", "Rambla de Catalunya", "Calle San Vicente",
           "Avenida de Andalucía", "Plaza de España", "Calle del Carmen", "Camino Viejo"]
DEPARTMENTS = ["Ventas", "Marketing", "Recursos Humanos", "Finanzas", "Sistemas",
               "Operaciones", "Legal", "Atención al Cliente", "Logística", "Compras"]
# The company of the group each person works for, and their helpdesk organisations.
COMPANIES = ["1", "2", "3"]
ORGS = ["1", "2", "3", "1|2", "2|3"]
LANGUAGES = ["es"] * 14 + ["en"] * 2 + ["ca"] * 2 + ["eu", "gl"]
PLANS = ["premium"] * 5 + ["trial"] * 3 + ["free"] * 2
NID_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

# Row index (0-based, before duplicates are inserted) -> the mistake made in that row.
BAD_ROWS = {
    11: "dni_letter", 37: "email", 52: "feb30", 68: "plan", 83: "phone",
    97: "dni_letter", 121: "missing_plan", 140: "email", 163: "apr31", 187: "plan",
    204: "missing_last_name", 226: "phone", 248: "dni_letter", 271: "missing_id",
}
# Rows whose employee_id repeats an earlier row's (a second record for the same person).
DUPLICATES = {150: 19, 290: 200}

COLUMNS = ["employee_id", "first_name", "last_name", "work_email", "dni", "sex", "birth_date",
           "mobile", "plan", "language", "country", "department", "company_id", "address",
           "city", "postal_code", "gnoss_user_id", "faveo_org_ids", "initial_password",
           "newsletter", "hire_date"]


def ascii_fold(s):
    """Lower-case ASCII for e-mail local parts: 'Núñez' -> 'nunez'."""
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if c.isascii() and (c.isalnum() or c == " ")).lower()


def nid(rng):
    """A valid DNI (most) or NIE (some) with its check letter."""
    if rng.random() < 0.12:
        prefix = rng.choice("XYZ")
        number = rng.randrange(0, 10_000_000)
        value = int(str("XYZ".index(prefix)) + f"{number:07d}")
        return f"{prefix}{number:07d}{NID_LETTERS[value % 23]}"
    number = rng.randrange(1_000_000, 100_000_000)
    return f"{number:08d}{NID_LETTERS[number % 23]}"


def date(rng, first_year, last_year):
    year = rng.randrange(first_year, last_year + 1)
    month = rng.randrange(1, 13)
    day = rng.randrange(1, 29)
    return f"{day:02d}/{month:02d}/{year}"


def mobile(rng, country):
    if country == "PT":
        return f"+351 9{rng.randrange(10, 40)} {rng.randrange(0, 1000):03d} {rng.randrange(0, 1000):03d}"
    return f"+34 6{rng.randrange(0, 100):02d} {rng.randrange(0, 1000):03d} {rng.randrange(0, 1000):03d}"


def password(rng):
    words = ["Sol", "Mar", "Luna", "Rio", "Monte", "Olivo", "Brisa", "Nieve"]
    return f"{rng.choice(words)}{rng.choice('#$%&*!?')}{rng.randrange(1000, 10000)}{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.choice('abcdefghijkmnpqrstuvwxyz')}"


USED_EMAILS = set()


def person(rng, index):
    sex = "F" if rng.random() < 0.5 else "M"
    first = rng.choice(FIRST_F if sex == "F" else FIRST_M)
    last = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
    local = f"{ascii_fold(first)}.{ascii_fold(last.split()[0])}".replace(" ", "")
    if local in USED_EMAILS:  # namesakes get their second surname's initial, then a number
        local = f"{local}.{ascii_fold(last.split()[1])[0]}"
    while local in USED_EMAILS:
        local = f"{local}{rng.randrange(2, 10)}"
    USED_EMAILS.add(local)
    email = f"{local}@{DOMAIN}"
    if rng.random() < 0.1:  # some HR systems keep mixed case: the config lower-cases
        email = email.title()
    country = "ES" if rng.random() < 0.93 else rng.choice(["PT", "FR", "AD"])
    city, prefix = rng.choice(CITIES)
    street = rng.choice(STREETS)
    number = rng.randrange(1, 200)
    address = f"{street}, {number}, {rng.randrange(1, 9)}º {rng.choice('ABCD')}"
    if rng.random() < 0.05:
        address = f'{street} "Edificio Sol", {number}'
    return {
        "employee_id": f"E{index + 1:05d}",
        "first_name": first,
        "last_name": last,
        "work_email": email,
        "dni": nid(rng),
        "sex": sex if rng.random() > 0.02 else "",
        "birth_date": date(rng, 1960, 2003),
        "mobile": mobile(rng, country),
        "plan": rng.choice(PLANS),
        "language": rng.choice(LANGUAGES),
        "country": country,
        "department": rng.choice(DEPARTMENTS),
        "company_id": rng.choice(COMPANIES),
        "address": address,
        "city": city,
        "postal_code": f"{prefix}{rng.randrange(1, 100):02d}",
        "gnoss_user_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "faveo_org_ids": rng.choice(ORGS),
        "initial_password": password(rng),
        "newsletter": rng.choice(["sí", "no", "sí", ""]),
        "hire_date": date(rng, 2005, 2024),
    }


def spoil(row, mistake):
    """Makes one deliberate mistake in `row`."""
    if mistake == "dni_letter":
        letter = row["dni"][-1]
        row["dni"] = row["dni"][:-1] + NID_LETTERS[(NID_LETTERS.index(letter) + 1) % 23]
    elif mistake == "email":
        row["work_email"] = row["work_email"].replace("@", " @", 1) if "." in row["work_email"] else "nadie@"
    elif mistake == "feb30":
        row["birth_date"] = "30/02/1985"
    elif mistake == "apr31":
        row["birth_date"] = "31/04/1990"
    elif mistake == "plan":
        row["plan"] = "gold"
    elif mistake == "phone":
        row["mobile"] = "+34 12 345"
    elif mistake == "missing_plan":
        row["plan"] = ""
    elif mistake == "missing_last_name":
        row["last_name"] = ""
    elif mistake == "missing_id":
        row["employee_id"] = ""
    else:
        raise ValueError(mistake)


def main():
    rng = random.Random(SEED)
    rows = [person(rng, i) for i in range(PEOPLE)]
    for index, mistake in BAD_ROWS.items():
        spoil(rows[index], mistake)
    for index, original in DUPLICATES.items():
        rows[index]["employee_id"] = rows[original]["employee_id"]

    with open(os.path.join(HERE, "hr_export.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(HERE, "hr_export.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            record = dict(row)
            record["company_id"] = int(row["company_id"])
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} people, {len(BAD_ROWS) + len(DUPLICATES)} deliberately bad")


if __name__ == "__main__":
    main()
