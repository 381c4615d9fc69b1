// Logs in to Home Assistant, opens an LwM2M device's page, checks its temperature and power
// switch are shown, flips the switch and saves a screenshot. Prints one JSON line of what it saw.
//   node toggle_switch.mjs URL USERNAME PASSWORD DEVICE_ID SCREENSHOT
import { chromium } from "playwright-core";

// the text of an element and of every shadow root below it (Home Assistant's rows keep their
// state in shadow DOM, which innerText does not enter)
const deepText = (root) => {
  const walk = (node) => {
    let text = node.nodeType === Node.TEXT_NODE ? node.textContent : "";
    if (node.shadowRoot) text += walk(node.shadowRoot);
    for (const child of node.childNodes) text += walk(child);
    return text;
  };
  return walk(root).replace(/\s+/g, " ").trim();
};

const [url, username, password, deviceId, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${url}/config/devices/device/${deviceId}`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.getByRole("button", { name: /log in/i }).click();
  const temperature = page.locator("hui-sensor-entity-row, hui-simple-entity-row", { hasText: "Temperature" }).first();
  await temperature.waitFor({ timeout: 30000 });
  const power = page.locator("hui-toggle-entity-row", { hasText: "Power" }).first();
  await power.waitFor({ timeout: 30000 });
  const toggle = power.locator("ha-switch").first();
  const before = await toggle.evaluate((el) => el.checked);
  await toggle.click();
  // the switch shows Home Assistant's state: the value the device confirmed
  let after = before;
  for (let waited = 0; after === before && waited < 15000; waited += 250) {
    await page.waitForTimeout(250);
    after = await toggle.evaluate((el) => el.checked);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({
    temperature: await temperature.evaluate(deepText),
    power_before: before, power_after: after,
  }));
} finally {
  await browser.close();
}
