"""Bulk import of published 自评表 (issue 12 §4): many files, folders and ZIPs at once, each
form read, scored and, with a cycle, stored as its project's targets and an evaluation
draft; a report per form. The CLI runs it in-process or enqueues it; the page enqueues it
to the ``bulk`` queue through the outbox."""
