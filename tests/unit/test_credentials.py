from ketaflow.accounts.credentials import dea_check_digit, dea_problem, npi_problem


def test_a_dea_number_with_the_right_check_digit_is_accepted():
    # digits 123456: (1+3+5) + 2*(2+4+6) = 33 -> check digit 3
    assert dea_check_digit("123456") == 3
    assert dea_problem("AB1234563") is None


def test_a_dea_number_with_a_typo_is_refused_with_a_reason():
    assert "check digit" in (dea_problem("AB1234564") or "")
    assert "two letters" in (dea_problem("1234563") or "")


def test_an_npi_with_a_valid_luhn_check_digit_is_accepted():
    assert npi_problem("1234567893") is None  # the CMS specification's worked example


def test_an_npi_with_a_wrong_check_digit_or_length_is_refused():
    assert "check digit" in (npi_problem("1234567890") or "")
    assert "ten digits" in (npi_problem("12345") or "")
