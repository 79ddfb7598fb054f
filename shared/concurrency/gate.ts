/**
 * At most `limit` holders at once within this process. A caller that finds the gate full does not
 * wait here: it puts its work back (a queue message with a delay), so no message is held while it
 * waits and another instance may take it. Used where holders need much memory at once (a sync's
 * full plan holds the tenant's every user and the environment's every record).
 */
export class Gate {
  private holders = 0;

  tryEnter(limit: number): boolean {
    if (this.holders >= limit) return false;
    this.holders++;
    return true;
  }

  leave(): void {
    if (this.holders > 0) this.holders--;
  }

  /**
   * One holder's place: `take` enters once (again while held: true, without counting twice),
   * `release` leaves once (a place not taken, or already released, does nothing) - so a caller can
   * release early and again in a `finally` without keeping its own flag.
   */
  place(): { take(limit: number): boolean; release(): void } {
    let held = false;
    return {
      take: (limit) => held || (held = this.tryEnter(limit)),
      release: () => {
        if (!held) return;
        held = false;
        this.leave();
      },
    };
  }

  get inUse(): number {
    return this.holders;
  }
}
