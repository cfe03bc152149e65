"""In a real browser: the payroll pages on the demo data, read by the staff demo login."""

from __future__ import annotations

from backoffice.demo import DEMO_ACCOUNTS
from tests.console.browser import check_page


async def test_payroll_pages_from_the_list_to_a_breakdown_and_the_analytics(visit):
    page = visit.page
    await visit.sign_in("staff", DEMO_ACCOUNTS["staff"])
    await (
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Payroll").click()
    )
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Employees"
    await check_page(visit, "payroll-employees")

    # Filter by country with the form, as a person would.
    await page.get_by_label("Country", exact=True).select_option("GB")
    await page.get_by_label("Order", exact=True).select_option("-salary")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state("load")
    assert "country=GB" in page.url
    names = await page.locator("table tbody th a").all_inner_texts()
    assert names[:2] == ["Oliver Smith", "Sophie Turner"]

    # An employee, then the as-of picker: a date under the first UK version.
    await page.get_by_role("link", name="Oliver Smith").click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Oliver Smith"
    await page.get_by_label("As of", exact=True).fill("2023-01-01")
    await page.get_by_role("button", name="Show breakdown").click()
    await page.wait_for_load_state("load")
    assert "as_of=2023-01-01" in page.url
    status = await page.get_by_role("status").last.inner_text()
    assert "version 1" in status and "in force from 2022-04-06 to 2023-04-05" in status
    assert "Net salary" in await page.locator("table.breakdown").inner_text()
    await check_page(visit, "payroll-employee")

    # The country's policy history, from the employee's page.
    await page.get_by_role("link", name="See every version of the policy").click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "United Kingdom (GB)"
    assert await page.get_by_role("heading", name="Version 2 in force today").is_visible()
    await check_page(visit, "payroll-country")

    await (
        page.get_by_role("navigation", name="Payroll")
        .get_by_role("link", name="Countries and tax policies")
        .click()
    )
    await page.wait_for_load_state("load")
    assert await page.get_by_role("link", name="United Kingdom (GB)").is_visible()
    await check_page(visit, "payroll-countries")

    await (
        page.get_by_role("navigation", name="Payroll")
        .get_by_role("link", name="Salary analytics")
        .click()
    )
    await page.wait_for_load_state("load")
    assert await page.get_by_role("img", name="Employees by country").is_visible()
    await check_page(visit, "payroll-analytics")
    await page.get_by_label("Figure", exact=True).select_option("avg")
    await page.get_by_label("Job titles in", exact=True).select_option("IN")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state("load")
    assert await page.get_by_role("img", name="Average salary by job title in India").is_visible()
    await check_page(visit, "payroll-analytics-country")
