import { describeBehaviour } from '../../shared/behaviour';
import { directFile, loopDevice, regularFile } from '../../support/files';

describeBehaviour(regularFile);
describeBehaviour(directFile);
describeBehaviour(loopDevice);
