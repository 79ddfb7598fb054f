/**
 * Append-only log of (version, object id) pairs in increasing version order; the basis of delta
 * queries. An entry is current when the object's version still equals the entry's version, so a
 * reader skips superseded entries and never needs the log compacted.
 */
export class ChangeLog {
  private versions: number[] = [];
  private ids: string[] = [];

  append(id: string, version: number): void {
    this.versions.push(version);
    this.ids.push(id);
  }

  get length(): number {
    return this.versions.length;
  }

  versionAt(index: number): number {
    return this.versions[index] ?? Number.POSITIVE_INFINITY;
  }

  idAt(index: number): string {
    return this.ids[index] ?? "";
  }

  /** Index of the first entry whose version is greater than `version`. */
  firstIndexAfter(version: number): number {
    let lo = 0;
    let hi = this.versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.versions[mid] ?? 0) <= version) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Membership changes of one group, for `members@delta`. */
export class MemberLog {
  private versions: number[] = [];
  private ids: string[] = [];
  private added: boolean[] = [];

  append(memberId: string, version: number, isAdded: boolean): void {
    this.versions.push(version);
    this.ids.push(memberId);
    this.added.push(isAdded);
  }

  /** Net changes in (since, upTo]: the last operation per member, in order of that operation. */
  netChanges(since: number, upTo: number): Array<{ id: string; added: boolean }> {
    const last = new Map<string, boolean>();
    for (let i = 0; i < this.versions.length; i++) {
      const v = this.versions[i] ?? 0;
      if (v <= since) continue;
      if (v > upTo) break;
      const id = this.ids[i] ?? "";
      last.delete(id);
      last.set(id, this.added[i] ?? false);
    }
    return [...last].map(([id, added]) => ({ id, added }));
  }
}
