import { describeBehaviour } from '../../shared/behaviour';
import { directFile, directLoopDevice, loopDevice, regularFile } from '../../support/files';

describeBehaviour(regularFile);
describeBehaviour(directFile);
describeBehaviour(loopDevice);
describeBehaviour(directLoopDevice);
