"""Salesforce Service Cloud cases for escalated exceptions: the REST client
(:mod:`streams.cases.client`), the record of escalations already handled
(:mod:`streams.cases.handled`) and the step the ``cases`` agent runs per escalation
(:mod:`streams.cases.opening`). What is sent and what answers mean is decided in
:mod:`carriers.salesforce_om.cases`."""
