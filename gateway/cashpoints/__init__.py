"""The directory of cash points where artisans pay their AMO and collect reimbursements."""
