# Sourced by Python test scripts (not a test itself): the tables and cards of a logpipe HTML
# report, as a person reads them.
import html.parser


class Tables(html.parser.HTMLParser):
    """Rows of every table (header row first), by the id of its section; the cards' values by label."""

    def __init__(self):
        super().__init__()
        self.section, self.tables, self.cell, self.row, self.cards, self.in_card = None, {}, None, None, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section": self.section = a.get("id")
        elif tag == "tr": self.row = []
        elif tag in ("td", "th"): self.cell = ""
        elif tag == "div" and a.get("class") == "card": self.in_card = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None: self.row.append(self.cell.strip()); self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables.setdefault(self.section, []).append(self.row); self.row = None
        elif tag == "div" and self.in_card is not None and len(self.in_card) == 2:
            self.cards[self.in_card[1]] = self.in_card[0]; self.in_card = None

    def handle_data(self, data):
        if self.cell is not None: self.cell += data
        elif self.in_card is not None and data.strip(): self.in_card.append(data.strip())


def read(path):
    t = Tables()
    t.feed(open(path, encoding="utf-8").read())
    return t
