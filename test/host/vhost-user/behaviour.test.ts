import { describeBehaviour } from '../../shared/behaviour';
import { qsdTarget } from './target';

describeBehaviour(qsdTarget('raw'));
describeBehaviour(qsdTarget('qcow2', { numQueues: 4 }));
