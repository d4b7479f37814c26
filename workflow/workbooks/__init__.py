"""The Excel round trip of the 自评表: download the form as .xlsx laid out like the paper
form, upload it back filled in (one file or many), and the department's ZIP of its units'
sheets. Reading and writing the workbook live here; saving goes through the evaluations'
own save operation."""
