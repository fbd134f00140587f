"""The operator console and the driver view, driven in a real browser.

Run by tests/tests/console.rs against a running `noriai serve`; prints one
JSON line with what it did for the Rust test to check against the server.

    console_flow.py URL OPERATOR_NAME OPERATOR_PASSWORD DRIVER_TOKEN SCREENSHOT_DIR TOMORROW_BOOKING

Chromium is Debian's (`/usr/bin/chromium`, or $NORIAI_CHROMIUM); Playwright's
own browser download does not work here.
"""

import json
import os
import sys
import time

from playwright.sync_api import expect, sync_playwright

url, operator, password, driver_token, shots, tomorrow_id = sys.argv[1:7]
os.makedirs(shots, exist_ok=True)
chromium = os.environ.get("NORIAI_CHROMIUM", "/usr/bin/chromium")
done = {}


def shot(page, name):
    page.screenshot(path=os.path.join(shots, name + ".png"), full_page=True)


def api_checks(p):
    """The JSON API refuses what it must, whatever the page does."""
    anon = p.request.new_context(base_url=url)
    r = anon.get("/api/v1/riders?phone=0172")
    assert r.status == 401, ("no session", r.status, r.text())
    r = anon.post("/api/v1/session", data={"name": operator, "password": "wrong password"},
                  headers={"x-noriai-console": "1"})
    assert r.status == 401, ("wrong password", r.status)
    r = anon.post("/api/v1/session", data={"name": operator, "password": password})
    assert r.status == 403, ("login without the console header", r.status)
    r = anon.post("/api/v1/session", data={"name": operator, "password": password},
                  headers={"x-noriai-console": "1"})
    assert r.status == 200, ("login", r.status, r.text())
    cookie = r.headers.get("set-cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    # A state-changing call without the header is refused even with the cookie.
    r = anon.post("/api/v1/bookings/1/cancel", data={"reason": "x"})
    assert r.status == 403, ("cancel without the console header", r.status)
    # An operator is no driver.
    r = anon.post("/api/v1/driver/events", data={"event_id": "x", "vehicle_id": 1, "kind": "arrived"},
                  headers={"x-noriai-console": "1"})
    assert r.status == 403, ("operator reporting a driver event", r.status, r.text())
    r = anon.get("/api/v1/riders?phone=abc%00")
    assert r.status in (200, 400), r.status
    r = anon.delete("/api/v1/session", headers={"x-noriai-console": "1"})
    assert r.status == 204, ("log out", r.status)
    r = anon.get("/api/v1/session")
    assert r.status == 401, ("after log out", r.status)
    anon.dispose()

    driver = p.request.new_context(base_url=url)
    r = driver.post("/api/v1/session", data={"token": driver_token}, headers={"x-noriai-console": "1"})
    assert r.status == 200 and r.json()["role"] == "driver", r.text()
    r = driver.get("/api/v1/riders?phone=0172")
    assert r.status == 403, ("a driver searching riders", r.status)
    driver.dispose()


with sync_playwright() as p:
    api_checks(p)
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--lang=ja-JP"])
    op_context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="ja-JP")
    op = op_context.new_page()
    errors = []
    op.on("pageerror", lambda e: errors.append(str(e)))

    # Log in.
    op.goto(url + "/")
    expect(op.locator("#login")).to_be_visible()
    op.fill("#login-name", operator)
    op.fill("#login-password", password)
    shot(op, "01-login")
    op.press("#login-password", "Enter")
    expect(op.locator("#search")).to_be_focused()

    # The caller gives their name; the operator types it in half-width kana.
    started = time.monotonic()
    op.keyboard.type("ﾔﾏﾀﾞ")
    op.keyboard.press("Enter")
    card = op.locator("#card .card")
    expect(card).to_contain_text("山田 花子")
    expect(card).to_contain_text("0172-55-0100")
    expect(card.locator(".places")).to_contain_text("診療所")
    # From home to the clinic is what the form offers first.
    expect(op.locator("#from option:checked")).to_contain_text("自宅")
    expect(op.locator("#to option:checked")).to_contain_text("診療所")
    expect(op.locator("#find")).to_be_focused()
    shot(op, "02-caller")

    # The caller wants to be fetched in about an hour: the time typed as
    # four digits, Enter finds rides, 1 picks the first offer, Enter confirms.
    tokyo = time.gmtime(time.time() + 9 * 3600 + 3600)
    minutes = min(tokyo.tm_hour * 60 + (tokyo.tm_min // 5 + 1) * 5, 23 * 60 + 55)
    typed = f"{minutes // 60:02d}{minutes % 60:02d}"
    op.fill("#time", typed)
    op.press("#time", "Enter")
    offer = op.locator("#offers .offer").first
    expect(offer).to_be_visible(timeout=20000)
    op.keyboard.press("1")
    expect(offer).to_have_attribute("aria-pressed", "true")
    window = offer.locator("strong").inner_text()
    shot(op, "03-offers")
    expect(op.locator("#offers .confirm")).to_be_focused()
    op.keyboard.press("Enter")
    expect(op.locator("#booked")).to_contain_text("予約しました", timeout=20000)
    expect(op.locator("#booked")).to_contain_text(window)
    # The four digits were read as a time: the pickup is not before it.
    assert window[:5] >= f"{typed[:2]}:{typed[2:]}", (window, typed)
    done["seconds_to_book"] = round(time.monotonic() - started, 1)
    assert done["seconds_to_book"] < 60, done
    shot(op, "04-booked")
    booked = op.locator(".upcoming li").filter(has_text=window)
    expect(booked).to_have_count(1)
    done["booking_id"] = int(booked.get_attribute("data-booking"))
    # Today's rides are listed by their day; tomorrow's ride has another.
    done["window_day"] = booked.inner_text()[:10]

    # The caller rings back: five minutes later, please. The change books
    # the new ride (its window overlaps the old one) and cancels the old.
    first_id = done["booking_id"]
    booked.get_by_role("button", name="変更").click()
    expect(op.locator("#changing")).to_be_visible()
    later = minutes + 5
    typed = f"{later // 60:02d}{later % 60:02d}"
    op.fill("#time", typed)
    op.press("#time", "Enter")
    offer = op.locator("#offers .offer").first
    expect(offer).to_be_visible(timeout=20000)
    op.keyboard.press("1")
    op.keyboard.press("Enter")
    expect(op.locator("#booked")).to_contain_text("変更しました", timeout=20000)
    expect(op.locator(f'.upcoming li[data-booking="{first_id}"]')).to_have_count(0)
    changed = op.locator(".upcoming li").filter(has_text=done["window_day"])
    expect(changed).to_have_count(1)
    done["booking_id"] = int(changed.get_attribute("data-booking"))
    done["changed_from"] = first_id
    assert done["booking_id"] != first_id, done

    # Cancel tomorrow's ride, saying why.
    tomorrow = op.locator(f'.upcoming li[data-booking="{tomorrow_id}"]')
    expect(tomorrow).to_have_count(1)
    done["cancelled_id"] = int(tomorrow_id)
    tomorrow.get_by_role("button", name="取消").click()
    op.keyboard.type("家族が送るため")
    op.keyboard.press("Enter")
    expect(op.locator("#booked")).to_contain_text("取り消しました")
    expect(op.locator(f'.upcoming li[data-booking="{done["cancelled_id"]}"]')).to_have_count(0)

    # Today's board shows the booking, live.
    op.click("#tab-today")
    row = op.locator(f'#board-bookings tr[data-booking="{done["booking_id"]}"]')
    expect(row).to_contain_text("山田 花子")
    expect(row.locator(".status")).to_have_attribute("data-status", "scheduled")
    expect(op.locator("#link-state")).to_have_text("接続中")
    shot(op, "05-board")

    # The driver, on a tablet, logs in with a token and works the stop.
    # The tablet's location service says it is at the rider's door.
    tablet = browser.new_context(
        viewport={"width": 820, "height": 1180},
        locale="ja-JP",
        geolocation={"latitude": 47.1411, "longitude": 9.5216},
        permissions=["geolocation"],
    )
    drv = tablet.new_page()
    drv.on("pageerror", lambda e: errors.append(str(e)))
    drv.goto(url + "/driver")
    drv.click("summary")
    drv.fill("#login-token", driver_token)
    with drv.expect_response("**/api/v1/driver/positions", timeout=20000) as sent:
        drv.press("#login-token", "Enter")
    assert sent.value.status == 200, sent.value.status
    stop = drv.locator(f'.stop.next[data-booking="{done["booking_id"]}"][data-pickup="true"]')
    expect(stop).to_contain_text("山田 花子")
    expect(stop).to_contain_text("0172-55-0100")
    shot(drv, "06-driver")
    stop.get_by_role("button", name="到着").click()
    expect(stop.locator(".status")).to_have_text("到着済", timeout=20000)
    expect(row.locator(".status")).to_have_attribute("data-status", "arrived", timeout=20000)
    stop.get_by_role("button", name="乗車").click()
    dropoff = drv.locator(f'.stop.next[data-booking="{done["booking_id"]}"][data-pickup="false"]')
    expect(dropoff).to_contain_text("乗車中", timeout=20000)
    expect(drv.locator("#queue")).to_have_text("送信済み")
    shot(drv, "07-driver-boarded")

    # The operator's board follows without a reload.
    expect(row.locator(".status")).to_have_attribute("data-status", "on_board", timeout=20000)
    shot(op, "08-board-updated")

    # English on the switch.
    op.click("#language")
    expect(op.locator("#tab-today")).to_have_text("Today")
    assert not errors, errors
    browser.close()

print(json.dumps(done))
