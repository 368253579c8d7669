"""From what the readers found to rules: the site file (who may connect), the policy
(endpoints + zones -> rules) and make_plan, which runs the whole path for one host."""
