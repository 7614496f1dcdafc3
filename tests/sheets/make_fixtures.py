"""Writes employees.xls and employees.ods, the .xls and .ods fixtures of tests/it/spreadsheet.rs.

Run once, with the pinned packages, from this folder:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install xlwt==1.3.0 odfpy==1.4.1
    /tmp/venv/bin/python make_fixtures.py
Both files hold the same two sheets: "Empleados" (a text id with leading zeros, date cells,
a phone number as a number cell, an error-free plan the config does not know) and "Bajas".
"""

import datetime

import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.number import DateStyle, Day, Month, Text as NumberText, Year
from odf.style import Style
from odf.table import Table, TableCell, TableRow
from odf.text import P

HEADER = ["id", "email", "plan", "sex", "born", "phone"]
EMPLEADOS = [
    ["00123", "ana@example.com", "gold", "F", datetime.date(1990, 1, 31), 34612345678],
    ["E2", "b@example.com", "free", "M", datetime.date(1985, 6, 15), 34699000111],
]
BAJAS = [["E9", "z@example.com", "trial", "F", datetime.date(1970, 12, 1), 34600000009]]
SHEETS = [("Empleados", EMPLEADOS), ("Bajas", BAJAS)]


def write_xls(path):
    book = xlwt.Workbook()
    date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for name, rows in SHEETS:
        sheet = book.add_sheet(name)
        for c, title in enumerate(HEADER):
            sheet.write(0, c, title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if isinstance(value, datetime.date):
                    sheet.write(r, c, value, date)
                else:
                    sheet.write(r, c, value)
    book.save(path)


def write_ods(path):
    doc = OpenDocumentSpreadsheet()
    date_style = DateStyle(name="dmy")
    date_style.addElement(Day(style="long"))
    date_style.addElement(NumberText(text="/"))
    date_style.addElement(Month(style="long"))
    date_style.addElement(NumberText(text="/"))
    date_style.addElement(Year(style="long"))
    doc.automaticstyles.addElement(date_style)
    date_cell = Style(name="datecell", family="table-cell", datastylename="dmy")
    doc.automaticstyles.addElement(date_cell)
    for name, rows in SHEETS:
        table = Table(name=name)
        for row in [HEADER] + rows:
            tr = TableRow()
            for value in row:
                if isinstance(value, datetime.date):
                    cell = TableCell(
                        valuetype="date", datevalue=value.isoformat(), stylename=date_cell
                    )
                    cell.addElement(P(text=value.strftime("%d/%m/%Y")))
                elif isinstance(value, int):
                    cell = TableCell(valuetype="float", value=value)
                    cell.addElement(P(text=str(value)))
                else:
                    cell = TableCell(valuetype="string")
                    cell.addElement(P(text=value))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(path)


if __name__ == "__main__":
    write_xls("employees.xls")
    write_ods("employees.ods")
