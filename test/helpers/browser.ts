import type { Page, Response } from "playwright-core";

/**
 * page.goto, once more when Chromium aborts the navigation with
 * net::ERR_NETWORK_CHANGED: Docker adds and removes a veth on this machine for
 * every container the suites beside this one start or stop, and Chromium's
 * network change notifier aborts navigations in flight then (a user would
 * press reload). Every other error, a certificate's say, is thrown as it is.
 */
export async function gotoSteady(page: Page, url: string, opts?: Parameters<Page["goto"]>[1]): Promise<Response | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url, opts);
    } catch (e) {
      if (attempt >= 5 || !/ERR_NETWORK_CHANGED/.test((e as Error).message)) throw e;
      console.log(`browser: ${url}: net::ERR_NETWORK_CHANGED (a container started or stopped beside this suite); loading it again`);
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}
