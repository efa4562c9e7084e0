"""Medical reimbursement claims: fed by the partner API and CSV files, shown in option 3."""
