"""The USSD conversation: screens, transitions, texts and paging. No HTTP, SQL or Redis."""
