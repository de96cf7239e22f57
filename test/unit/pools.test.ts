import { describe, expect, it } from 'vitest';
import { canLaunchSpot } from '../../src/pools';

describe('canLaunchSpot: the one rule the decisions and the simulated cloud share', () => {
  it.each([
    { rule: 'below the max price: launches', spot: 0.05, max: 0.21, expected: true },
    { rule: 'exactly at the max price: launches and stays (EC2 interrupts only above it)', spot: 0.21, max: 0.21, expected: true },
    { rule: 'above the max price: no launch, running instances interrupted', spot: 0.2101, max: 0.21, expected: false },
  ])('$rule', ({ spot, max, expected }) => {
    expect(canLaunchSpot(spot, max)).toBe(expected);
  });
});
