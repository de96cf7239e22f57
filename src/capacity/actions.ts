/** The capacity controller's actions: it alone sets a group's desired capacity (the on-demand cover included). */
import type { ActionBase, SkipAction } from '../actions';

export interface SetDesiredCapacityAction extends ActionBase {
  kind: 'setDesiredCapacity';
  from: number;
  to: number;
}

export type CapacityAction = SkipAction | SetDesiredCapacityAction;
